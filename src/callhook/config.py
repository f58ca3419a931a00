"""Settings, built once from the command line, the environment and an optional TOML file.

Precedence: command-line flag > environment (``CALLHOOK_*``) > TOML file
(``--config`` / ``CALLHOOK_CONFIG``) > default. Nothing below the composition root
reads ``os.environ``: :func:`load` is called by the CLI and the result is passed down.

This module is the one definition of the settings: the :class:`Config` fields (name,
type, default), ``_ENV`` (the environment variable of each), ``_FLAGS`` (the
command-line flag, where there is one), ``_HELP`` (what it does) and ``_EXTRA`` (the
settings that are not plain fields). :func:`settings` joins them; ``docs/configuration.md``
and ``callhook serve --help`` are generated from it (:mod:`callhook.config_doc`, ``scripts/configuration-doc``
rewrites the document; a test fails when the two disagree). A new setting is a field,
an ``_ENV`` entry and a ``_HELP`` entry.

In the TOML file, tenant tokens are a table ``[tenant_tokens]`` of ``token = "tenant"``.
They land in ``Config.extra["tenant_tokens"]`` (token -> tenant). The further IS2PBX
actions are tables ``[actions.<name>]`` (docs/api.md, validated here by
:func:`callhook.core.ami.action_map.parse_mapping`), in ``Config.extra["actions"]``.

Retries (docs/delivery.md): ``retry_schedule`` is the delay in seconds before each
retry (a TOML array, or comma-separated in the environment), so it also sets the
number of attempts (one more than its length); ``retry_client_error_attempts`` the
attempts after which any other 4xx/3xx answer is dead; ``retry_lifetimes`` the
seconds an event type stays worth sending (a TOML table ``[retry_lifetimes]`` of
``"call.ringing" = 300``, or ``type=seconds,...`` in the environment), merged over
the defaults, 0 removing a type's lifetime. Limits: at most 50 delays, each delay
and lifetime at most 7 days, 1-100 attempts.

Several PBXs: ``[[pbx]]`` tables of ``name``, ``ami`` (the ``ami://`` URL), and
optionally ``directory`` (a directory file of that PBX's own; without it the PBX uses
the deployment's ``directory``) and ``tenant`` (the tenant of that PBX's calls where its
directory names none), parsed into :class:`PbxSource` values in ``Config.extra["pbx"]``;
:func:`pbx_sources` gives the PBXs of a config either way (the single ``ami_url`` is one
PBX named ``pbx_name``).

The secret keys (Fernet keys, comma-separated in ``CALLHOOK_SECRET_KEYS``, a list
``secret_keys = [...]`` in the file; the first encrypts, all decrypt) land in
``Config.extra["secret_keys"]``.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from callhook.core.ami.action_map import MappingError, parse_mapping
from callhook.core.events import EventType
from callhook.core.retry import (
    DEFAULT_LIFETIMES,
    DEFAULT_SCHEDULE,
    RetryPolicy,
    check_attempts,
    check_lifetimes,
    check_schedule,
    merge_lifetimes,
)

__all__ = [
    "Config",
    "ConfigError",
    "PbxSource",
    "Setting",
    "env_help",
    "load",
    "parse_listen",
    "pbx_sources",
    "settings",
]


class ConfigError(ValueError):
    """A setting is invalid; the message names the key."""


@dataclass(frozen=True, slots=True)
class Config:
    listen: str = "127.0.0.1:8080"
    database_url: str = "sqlite:///callhook.db"
    ami_url: str = ""
    pbx_name: str = "pbx"  # the PBX's identity in event ids (docs/delivery.md)
    directory: str = ""
    admin_token: str = ""
    timezone: str = "UTC"
    allow_private_networks: bool = True
    sender: str = "curl"  # the HTTP client for webhooks: curl (pycurl, faster) or aiohttp
    log_level: str = "INFO"
    log_format: str = "text"  # text or json (one object a line, with the record's extra fields)
    access_log: bool = False  # one log record per HTTP request to the API
    # click-to-dial dial plan (the click2dial fixture's shape)
    originate_context: str = "click2dial"
    originate_variable: str = "C2D_EXTEN"
    originate_timeout_ms: int = 30000
    ami_ping_interval: float = 20.0
    election_poll: float = 1.0  # PostgreSQL: seconds between asks for a PBX's AMI lock (and the holder's pings)
    dispatch_concurrency: int = 512
    delivery_lease: float = 300.0  # seconds a claimed delivery stays with its process (docs/deployment.md)
    endpoint_concurrency: int = 16
    max_body_bytes: int = 1 << 20
    retry_schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    retry_client_error_attempts: int = 3
    retry_lifetimes: Mapping[str, float] = field(default_factory=lambda: DEFAULT_LIFETIMES)
    disable_after_days: float = 0.0  # issue 15: disable a webhook failing this long (0: never)
    recordings_dir: str = ""  # issue 15: where the PBX's recordings are readable (empty: no downloads)
    public_url: str = ""  # issue 15: callhook's URL as receivers reach it (for download links)
    recording_link_days: float = 7.0  # issue 15: how long a recording's download link is valid
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def host_port(self) -> tuple[str, int]:
        return parse_listen(self.listen)

    @property
    def retry_policy(self) -> RetryPolicy:
        """The installation's retry policy (a subscription may override it)."""
        return RetryPolicy(
            schedule=self.retry_schedule,
            client_error_attempts=self.retry_client_error_attempts,
            lifetimes=self.retry_lifetimes,
        )


_ENV = {
    "listen": "CALLHOOK_LISTEN",
    "database_url": "CALLHOOK_DATABASE_URL",
    "ami_url": "CALLHOOK_AMI_URL",
    "pbx_name": "CALLHOOK_PBX_NAME",
    "directory": "CALLHOOK_DIRECTORY",
    "admin_token": "CALLHOOK_ADMIN_TOKEN",
    "timezone": "CALLHOOK_TIMEZONE",
    "allow_private_networks": "CALLHOOK_ALLOW_PRIVATE_NETWORKS",
    "log_level": "CALLHOOK_LOG_LEVEL",
    "log_format": "CALLHOOK_LOG_FORMAT",
    "access_log": "CALLHOOK_ACCESS_LOG",
    "sender": "CALLHOOK_SENDER",
    "originate_context": "CALLHOOK_ORIGINATE_CONTEXT",
    "originate_variable": "CALLHOOK_ORIGINATE_VARIABLE",
    "originate_timeout_ms": "CALLHOOK_ORIGINATE_TIMEOUT_MS",
    "ami_ping_interval": "CALLHOOK_AMI_PING_INTERVAL",
    "election_poll": "CALLHOOK_ELECTION_POLL",
    "dispatch_concurrency": "CALLHOOK_DISPATCH_CONCURRENCY",
    "delivery_lease": "CALLHOOK_DELIVERY_LEASE",
    "endpoint_concurrency": "CALLHOOK_ENDPOINT_CONCURRENCY",
    "max_body_bytes": "CALLHOOK_MAX_BODY_BYTES",
    "retry_schedule": "CALLHOOK_RETRY_SCHEDULE",
    "retry_client_error_attempts": "CALLHOOK_RETRY_CLIENT_ERROR_ATTEMPTS",
    "retry_lifetimes": "CALLHOOK_RETRY_LIFETIMES",
    "disable_after_days": "CALLHOOK_DISABLE_AFTER_DAYS",
    "recordings_dir": "CALLHOOK_RECORDINGS_DIR",
    "public_url": "CALLHOOK_PUBLIC_URL",
    "recording_link_days": "CALLHOOK_RECORDING_LINK_DAYS",
}

# The command-line flag of a setting, where it has one (the rest: environment or TOML).
_FLAGS = {
    "listen": "--listen",
    "database_url": "--db",
    "ami_url": "--ami",
    "directory": "--directory",
    "log_level": "--log-level",
    "log_format": "--log-format",
    "access_log": "--access-log",
}

# What each setting does, for docs/configuration.md and ``serve --help``.
_HELP = {
    "listen": "HOST:PORT the API and dashboard listen on",
    "database_url": "`sqlite:///file.db` (relative to the working directory) or `postgresql://user:pw@host/db`",
    "ami_url": "`ami://USER:SECRET@HOST:PORT` of the Asterisk manager; empty: no PBX (webhooks in only)",
    "pbx_name": "the PBX's name: part of every AMI event's id (keep it when the URL changes; "
    "distinct for each PBX sharing a database)",
    "directory": "the PBX directory, a JSON or TOML file (who is behind each extension; docs/asterisk.md)",
    "admin_token": "the API's admin token; empty: one is generated and printed once at start",
    "timezone": "IANA time zone of statistics and dialect times (the directory's, when it names one)",
    "allow_private_networks": "may webhooks go to private and loopback addresses (false for a hosted hub)",
    "sender": "HTTP client of the webhooks: `curl` (pycurl) or `aiohttp`",
    "log_level": "DEBUG, INFO, WARNING or ERROR",
    "log_format": "`text`, or `json`: one object a line with the record's extra fields (`call_id`, ...)",
    "access_log": "log one line per API request (method, path, status, client) as `callhook.access`",
    "originate_context": "dial plan context of click-to-dial's Originate",
    "originate_variable": "channel variable that carries the extension in click-to-dial",
    "originate_timeout_ms": "how long click-to-dial rings the extension (milliseconds)",
    "ami_ping_interval": "seconds between AMI keep-alive Pings",
    "election_poll": "PostgreSQL: seconds between a waiting process's asks for the PBX's AMI lock and the "
    "holder's checks of its lock connection (takeover within about 2 of them; docs/deployment.md)",
    "dispatch_concurrency": "deliveries in flight at once, over all endpoints",
    "delivery_lease": "seconds a claimed delivery stays with the process that claimed it; a process that died "
    "mid-send has its deliveries sent again by another after this (keep it above the longest send)",
    "endpoint_concurrency": "deliveries in flight at once to one endpoint",
    "max_body_bytes": "largest request body the API accepts (bytes)",
    "retry_schedule": "seconds before each retry (TOML array, or `10,30,...`); attempts: one more than its length",
    "retry_client_error_attempts": "attempts after which any other 4xx/3xx answer is dead",
    "retry_lifetimes": "seconds an event type stays worth sending (TOML table, or `type=seconds,...`), "
    "merged over the defaults; 0 removes a type's lifetime",
    "disable_after_days": "days of continuous failure (no 2xx) after which a webhook is disabled, with a "
    "`webhook.disabled` notice; 0: never (a 410 Gone disables at once)",
    "recordings_dir": "directory where callhook can read the PBX's recordings (MixMonitor's files, by base name); "
    "with `public_url`, `call.recording` events carry a signed `download_url`; empty: no downloads",
    "public_url": "callhook's base URL as receivers reach it (`https://hub.example.com`), for download links",
    "recording_link_days": "days a recording's download link stays valid, from the call's end",
}

# How a default reads in the documentation, where its value alone would mislead.
_DEFAULT_TEXT = {
    "database_url": "`sqlite:///callhook.db`",
    "ami_url": "none",
    "directory": "none (an empty directory)",
    "admin_token": "generated, printed once",
    "timezone": "`UTC` (or the directory's)",
    "retry_schedule": "`10,30,60,300,900,1800,3600,7200,14400,28800,28800`",
    "retry_lifetimes": "`call.new=900,call.ringing=300,queue.offered=300`",
}


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the settings table: where a setting comes from and what it does."""

    toml: str  # key in the TOML file ("" when it has none)
    env: str
    flag: str
    default: str
    help: str


# Settings that are not plain Config fields (parsed by load() itself).
_EXTRA = (
    Setting("", "CALLHOOK_CONFIG", "--config", "none", "the TOML file to read the settings from"),
    Setting(
        "[tenant_tokens]",
        "CALLHOOK_TENANT_TOKENS",
        "",
        "none",
        'API tokens of tenants: TOML a table of `token = "tenant"`, the environment '
        "`tenant:token,...` (tokens of 16+ characters)",
    ),
    Setting("", "CALLHOOK_TELPHIN_LIMIT", "", "`10`", "Telphin subscriptions a client may create"),
    Setting(
        "[[pbx]]",
        "CALLHOOK_PBXS",
        "",
        "none: the one PBX of `ami_url`",
        "several PBXs, each a table of `name`, `ami` (URL), `directory` (its own file; default the "
        "deployment's) and `tenant` (of its calls; default the directory's); the environment a JSON array "
        'of such objects (`[{"name": "hq", "ami": "ami://..."}]`); each PBX is elected separately '
        "(docs/deployment.md)",
    ),
    Setting(
        "secret_keys",
        "CALLHOOK_SECRET_KEYS",
        "",
        "none: secrets stored in clear (logged at start)",
        "Fernet keys that encrypt secrets at rest: TOML a list, the environment comma-separated; "
        "the first encrypts, all decrypt (`callhook secrets new-key`, `callhook secrets rotate`; docs/api.md)",
    ),
)


def settings() -> list[Setting]:
    """Every setting, in the order of the Config fields, then the extra ones."""
    out: list[Setting] = []
    for f in fields(Config):
        if f.name == "extra":
            continue
        # a field without _ENV or _HELP still loads (from TOML); tests/unit/test_config_doc.py
        # fails until it has both, so the document is never silently incomplete
        default = _DEFAULT_TEXT.get(f.name) or f"`{str(f.default).lower() if f.type == 'bool' else f.default}`"
        out.append(Setting(f.name, _ENV.get(f.name, ""), _FLAGS.get(f.name, ""), default, _HELP.get(f.name, "")))
    return [*out, *_EXTRA]


def env_help() -> str:
    """The environment variables, for the end of ``callhook serve --help``."""
    rows = [f"  {s.env:<32} {s.help.replace('`', '')}" for s in settings() if s.env]
    return "environment (a flag wins over its variable; see docs/configuration.md):\n" + "\n".join(rows)


EVENT_TYPES = frozenset(t.value for t in EventType)


def _secret_keys(keys: list[str]) -> list[str]:
    from callhook.store.sealed import check_keys

    try:
        return check_keys(keys)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def parse_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise ConfigError(f"listen: expected HOST:PORT, got {value!r}")
    try:
        p = int(port)
    except ValueError:
        raise ConfigError(f"listen: port {port!r} is not a number") from None
    if not 0 <= p < 65536:
        raise ConfigError(f"listen: port {p} out of range")
    return host.strip("[]"), p


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a number of seconds, got {value!r}")
    try:
        return float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a number of seconds, got {value!r}") from None


def _schedule(name: str, value: Any) -> tuple[float, ...]:
    """A TOML array of seconds, or ``10,30,60`` in the environment ("" for no retries)."""
    if isinstance(value, str):
        items: list[Any] = [v for v in value.split(",") if v.strip()]
    elif isinstance(value, list):
        items = value
    else:
        raise ConfigError(f"{name}: expected a list of seconds, got {type(value).__name__}")
    delays = tuple(_number(name, v) for v in items)
    try:
        return check_schedule(delays)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def _lifetimes(name: str, value: Any) -> Mapping[str, float]:
    """A TOML table of event type = seconds, or ``call.ringing=300,call.new=900``."""
    given: dict[str, float] = {}
    if isinstance(value, str):
        for item in value.split(","):
            if not item.strip():
                continue
            etype, sep, seconds = item.partition("=")
            if not sep:
                raise ConfigError(f"{name}: expected event.type=seconds pairs, got {item.strip()!r}")
            given[etype.strip()] = _number(name, seconds)
    elif isinstance(value, dict):
        given = {str(k): _number(f"{name}.{k}", v) for k, v in value.items()}
    else:
        raise ConfigError(f"{name}: expected a table of event type = seconds, got {type(value).__name__}")
    try:
        check_lifetimes(given, EVENT_TYPES)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    return merge_lifetimes(DEFAULT_LIFETIMES, given)


def _coerce(name: str, value: Any, kind: Any) -> Any:
    if kind == "tuple[float, ...]":
        return _schedule(name, value)
    if kind == "Mapping[str, float]":
        return _lifetimes(name, value)
    if kind is bool or kind == "bool":
        if isinstance(value, bool):
            return value
        v = str(value).strip().lower()
        if v in ("1", "true", "yes", "on"):
            return True
        if v in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}: expected true/false, got {value!r}")
    if kind is int or kind == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected an integer, got {value!r}") from None
    if kind is float or kind == "float":
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected text, got {type(value).__name__}")
    return value


@dataclass(frozen=True, slots=True)
class PbxSource:
    """One PBX of the deployment (a ``[[pbx]]`` table, or the single ``ami_url``)."""

    name: str  # its identity: in every event's id and ``pbx`` field, its election lock, the API's ``pbx=``
    ami: str  # ami://USER:SECRET@HOST:PORT
    directory: str = ""  # a directory file of its own; "": the deployment's (``directory``)
    tenant: str = ""  # the tenant of its calls where its directory names none; "": the directory's


_PBX_KEYS = frozenset({"name", "ami", "directory", "tenant"})


def _check_pbx_name(where: str, name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 64 or name != name.strip():
        raise ConfigError(f"{where}: expected a name of 1-64 characters without surrounding spaces, got {name!r}")
    return name


def _check_ami_url(where: str, url: str) -> None:
    if url and not url.startswith("ami://"):
        raise ConfigError(f"{where}: expected ami://USER:SECRET@HOST:PORT, got a URL starting {url[:8]!r}")


def _pbx_tables(origin: str, tables: object) -> tuple[PbxSource, ...]:
    """``origin``: where they were read ("config file F: pbx" or "CALLHOOK_PBXS")."""
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{origin}: expected [[pbx]] tables (or a JSON array) of name, ami, directory, tenant")
    out: list[PbxSource] = []
    for i, t in enumerate(tables):
        where = f"{origin}[{i}]"
        unknown = sorted(set(t) - _PBX_KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown key {unknown[0]!r} (expected name, ami, directory, tenant)")
        for key in ("name", "ami"):
            if key not in t:
                raise ConfigError(f"{where}: {key} is required")
        for key in _PBX_KEYS & set(t):
            if not isinstance(t[key], str):
                raise ConfigError(f"{where}: {key}: expected text")
        name = _check_pbx_name(f"{where}: name", t["name"])
        _check_ami_url(f"{where}: ami", t["ami"])
        if not t["ami"]:
            raise ConfigError(f"{where}: ami: expected ami://USER:SECRET@HOST:PORT")
        if any(p.name == name for p in out):
            raise ConfigError(f"{where}: name {name!r} is used by another [[pbx]] (names must be unique)")
        out.append(PbxSource(name, t["ami"], t.get("directory", ""), t.get("tenant", "")))
    return tuple(out)


def pbx_sources(cfg: Config) -> tuple[PbxSource, ...]:
    """The PBXs ``cfg`` reads: its ``[[pbx]]`` tables, else the one ``ami_url`` (named
    ``pbx_name``), else none (webhooks in only)."""
    listed: tuple[PbxSource, ...] = tuple(cfg.extra.get("pbx", ()))
    if listed:
        return listed
    return (PbxSource(cfg.pbx_name, cfg.ami_url),) if cfg.ami_url else ()


def load(flags: Mapping[str, Any], environ: Mapping[str, str], config_file: str | None = None) -> Config:
    """Merge the sources (see the module table) and validate once."""
    values: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    types = {f.name: f.type for f in fields(Config)}
    path = config_file or environ.get("CALLHOOK_CONFIG", "")
    if path:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"config file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        section = dict(data.get("callhook", data))
        table = section.pop("tenant_tokens", None)
        if table is not None:
            if not isinstance(table, dict) or not all(isinstance(v, str) and v for v in table.values()):
                raise ConfigError(f'config file {path}: tenant_tokens: expected a table of token = "tenant"')
            extra["tenant_tokens"] = dict(table)
        mapped = section.pop("actions", None)
        if mapped is not None:
            try:
                parse_mapping(mapped)
            except MappingError as exc:
                raise ConfigError(f"config file {path}: {exc}") from None
            extra["actions"] = mapped
        tables = section.pop("pbx", None)
        if tables is None and "callhook" in data:
            tables = data.get("pbx")
        if tables is not None:
            extra["pbx"] = _pbx_tables(f"config file {path}: pbx", tables)
        file_keys = section.pop("secret_keys", None)
        if file_keys is not None:
            if not isinstance(file_keys, list) or not all(isinstance(k, str) for k in file_keys):
                raise ConfigError(f"config file {path}: secret_keys: expected a list of Fernet keys")
            extra["secret_keys"] = _secret_keys(file_keys)
        for key, v in section.items():
            if key not in types or key == "extra":
                raise ConfigError(f"config file {path}: unknown key {key!r}")
            values[key] = _coerce(key, v, types[key])
    for key, env in _ENV.items():
        if env in environ and environ[env] != "":
            values[key] = _coerce(env, environ[env], types[key])
    for key, v in flags.items():
        if v is not None:
            values[key] = _coerce(f"--{key}", v, types[key])
    raw_tokens = environ.get("CALLHOOK_TENANT_TOKENS", "")
    if raw_tokens:
        tokens: dict[str, str] = dict(extra.get("tenant_tokens", {}))
        for item in raw_tokens.split(","):
            tenant, sep, token = item.strip().partition(":")
            if not sep or not tenant or len(token) < 16:
                raise ConfigError("CALLHOOK_TENANT_TOKENS: expected tenant:token pairs, tokens of 16+ characters")
            tokens[token] = tenant
        extra["tenant_tokens"] = tokens
    if environ.get("CALLHOOK_SECRET_KEYS", ""):
        extra["secret_keys"] = _secret_keys(environ["CALLHOOK_SECRET_KEYS"].split(","))
    if environ.get("CALLHOOK_PBXS", ""):
        try:
            listed = json.loads(environ["CALLHOOK_PBXS"])
        except ValueError as exc:
            raise ConfigError(f"CALLHOOK_PBXS: not valid JSON: {exc}") from None
        extra["pbx"] = _pbx_tables("CALLHOOK_PBXS", listed)
    if "CALLHOOK_TELPHIN_LIMIT" in environ:
        extra["telphin_limit"] = _coerce("CALLHOOK_TELPHIN_LIMIT", environ["CALLHOOK_TELPHIN_LIMIT"], int)
    values["extra"] = extra
    cfg = Config(**values)
    parse_listen(cfg.listen)
    _check_ami_url("ami", cfg.ami_url)
    if not cfg.pbx_name.strip() or len(cfg.pbx_name) > 64:
        raise ConfigError(f"pbx_name: expected a name of 1-64 characters, got {cfg.pbx_name!r}")
    if cfg.ami_url and extra.get("pbx"):
        raise ConfigError(
            "ami: the PBXs are listed as [[pbx]] tables (or in CALLHOOK_PBXS); give them there or one "
            "with --ami (CALLHOOK_AMI_URL), not both"
        )
    if cfg.sender not in ("curl", "aiohttp"):
        raise ConfigError(f"sender: expected curl or aiohttp, got {cfg.sender!r}")
    try:
        check_attempts(cfg.retry_client_error_attempts)
    except ValueError as exc:
        raise ConfigError(f"retry_client_error_attempts: {exc}") from None
    if cfg.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"log_level: expected DEBUG, INFO, WARNING or ERROR, got {cfg.log_level!r}")
    for key in ("originate_timeout_ms", "dispatch_concurrency", "endpoint_concurrency", "max_body_bytes"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"{key}: expected a positive integer, got {getattr(cfg, key)}")
    if not cfg.recording_link_days > 0:
        raise ConfigError(f"recording_link_days: expected days > 0, got {cfg.recording_link_days}")
    if cfg.public_url and not cfg.public_url.startswith(("http://", "https://")):
        raise ConfigError(f"public_url: expected an http:// or https:// URL, got {cfg.public_url!r}")
    if not cfg.disable_after_days >= 0:
        raise ConfigError(f"disable_after_days: expected days >= 0, got {cfg.disable_after_days}")
    if not cfg.ami_ping_interval > 0:
        raise ConfigError(f"ami_ping_interval: expected seconds > 0, got {cfg.ami_ping_interval}")
    if not 1 <= cfg.delivery_lease <= 86400:
        raise ConfigError(f"delivery_lease: expected seconds in 1-86400, got {cfg.delivery_lease}")
    if not 0.05 <= cfg.election_poll <= 10:
        raise ConfigError(f"election_poll: expected seconds in 0.05-10, got {cfg.election_poll}")
    if cfg.log_format not in ("text", "json"):
        raise ConfigError(f"log_format: expected text or json, got {cfg.log_format!r}")
    return cfg
