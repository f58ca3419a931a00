"""docs/configuration.md, generated from the one definition of the settings
(:func:`callhook.config.settings`); ``scripts/configuration-doc`` writes it and a test
fails when the file and the definition disagree."""

from __future__ import annotations

from callhook.config import settings

__all__ = ["render_markdown"]


def render_markdown() -> str:
    """docs/configuration.md, generated from :func:`settings`."""
    lines = [
        "# Configuration",
        "",
        "<!-- Generated from src/callhook/config.py by scripts/configuration-doc; do not edit by hand. -->",
        "",
        "callhook reads its settings once, at start: a command-line flag wins over the",
        "environment variable, which wins over the TOML file (`--config FILE` or",
        "`CALLHOOK_CONFIG`), which wins over the default. A bad value stops the start with",
        "`callhook: configuration error: <key>: ...` and exit status 2.",
        "",
        "| TOML key | environment | flag | default | what it does |",
        "|---|---|---|---|---|",
    ]
    for s in settings():
        cells = [
            f"`{s.toml}`" if s.toml else "",
            f"`{s.env}`" if s.env else "",
            f"`{s.flag}`" if s.flag else "",
            s.default,
            s.help,
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += [
        "",
        "Booleans are `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`). In the TOML file the",
        "keys sit at the top level or in a `[callhook]` table; an unknown key is an error:",
        "",
        "```toml",
        "[callhook]",
        'listen = "0.0.0.0:8080"',
        'database_url = "postgresql://callhook:secret@127.0.0.1/callhook"',
        'ami_url = "ami://callhook:change-me@127.0.0.1:5038"',
        'directory = "/etc/callhook/directory.json"',
        'log_format = "json"',
        "access_log = true",
        "",
        "[tenant_tokens]",
        '"a-token-of-at-least-16-characters" = "acme"',
        "```",
        "",
        "## Several PBXs",
        "",
        "One deployment may read several Asterisk servers: instead of `ami_url`, list them as",
        "`[[pbx]]` tables. Each is elected separately on PostgreSQL (one process holds each",
        "PBX's AMI session; docs/deployment.md); its name is in every event's id and `pbx`",
        "field, and the API (`?pbx=`), the dashboard and the metrics (label `pbx`) filter by it.",
        "A PBX without a `directory` of its own uses the deployment's `directory`; its `tenant`",
        "owns its calls where its directory names no tenant:",
        "",
        "```toml",
        'directory = "/etc/callhook/directory.json"',
        "",
        "[[pbx]]",
        'name = "prague"',
        'ami = "ami://callhook:change-me@10.0.0.5:5038"',
        "",
        "[[pbx]]",
        'name = "brno"',
        'ami = "ami://callhook:change-me@10.0.1.5:5038"',
        'directory = "/etc/callhook/brno.json"',
        'tenant = "globex"',
        "```",
        "",
        "Commands that talk to a running hub (`webhooks`, `deliveries`, `calls`, ...) take",
        "`--url` (env `CALLHOOK_URL`, default `http://127.0.0.1:8080`) and `--token`",
        "(env `CALLHOOK_TOKEN`).",
        "",
        "## Logs",
        "",
        "Logs go to stderr. `--log-format json` writes one JSON object a line: `ts` (ISO 8601",
        "with offset), `level`, `logger`, `message`, and the record's stable extra fields",
        "`call_id`, `subscription_id`, `delivery_id` (and `event_id`) when the record carries",
        "them, `exc` for a traceback. `--access-log` adds one record per API request from the",
        "`callhook.access` logger, with `method`, `path`, `status` and `client`.",
        "",
        "## Exit status",
        "",
        "`0` stopped by SIGINT/SIGTERM; `1` an error at run time; `2` a configuration error, or",
        "the listen address cannot be bound (`callhook: cannot listen on HOST:PORT: Address",
        "already in use`: nothing else is started), or a refused AMI login.",
        "",
    ]
    return "\n".join(lines)
