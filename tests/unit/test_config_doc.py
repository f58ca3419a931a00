"""docs/configuration.md is generated from the one settings definition (callhook/config.py)."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
from pathlib import Path

import pytest

from callhook import config as config_mod
from callhook.cli.main import parser
from callhook.config import Config, ConfigError, env_help, load, settings
from callhook.config_doc import render_markdown
from callhook.logs import JsonFormatter, configure

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_the_document_is_what_the_definition_generates() -> None:
    assert DOC.read_text(encoding="utf-8") == render_markdown(), "run scripts/configuration-doc"


def test_every_field_is_a_documented_setting_with_a_variable_that_works() -> None:
    names = [f.name for f in dataclasses.fields(Config) if f.name != "extra"]
    rows = {s.toml: s for s in settings()}
    doc = DOC.read_text(encoding="utf-8")
    for name in names:
        row = rows[name]
        assert row.env.startswith("CALLHOOK_")
        assert f"| `{name}` | `{row.env}` |" in doc
    # each variable really sets its field: a non-default value for every one of them
    samples = {str: "x", int: "7", float: "2.5", bool: "false"}
    types = {"str": str, "int": int, "float": float, "bool": bool}
    by_name = {"retry_schedule": "5,15", "retry_lifetimes": "call.ringing=60"}  # not plain scalars
    env = {}
    for f in dataclasses.fields(Config):
        if f.name == "extra":
            continue
        env[rows[f.name].env] = by_name[f.name] if f.name in by_name else samples[types[str(f.type)]]
    env.update(
        CALLHOOK_LISTEN="127.0.0.1:9",
        CALLHOOK_AMI_URL="ami://u:p@h:1",
        CALLHOOK_SENDER="aiohttp",
        CALLHOOK_LOG_LEVEL="DEBUG",
        CALLHOOK_LOG_FORMAT="json",
        CALLHOOK_ACCESS_LOG="true",
        CALLHOOK_ALLOW_PRIVATE_NETWORKS="false",
        CALLHOOK_PUBLIC_URL="https://hub.example.com",
    )
    cfg, default = load({}, env), Config()
    for f in dataclasses.fields(Config):
        if f.name != "extra":
            assert getattr(cfg, f.name) != getattr(default, f.name), f"{rows[f.name].env} did not set {f.name}"


def test_serve_help_lists_every_variable(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parser().parse_args(["serve", "--help"])
    text = capsys.readouterr().out
    for s in settings():
        assert s.env in text
    assert "--access-log" in text
    assert env_help() in text


def test_every_setting_has_a_variable_and_a_help_text() -> None:
    """A field added without an _ENV or a _HELP entry fails here (and the CLI still starts)."""
    for s in settings():
        assert s.env, f"{s.toml}: add it to _ENV in callhook/config.py"
        assert s.help, f"{s.toml or s.env}: add it to _HELP in callhook/config.py"


def test_a_setting_without_help_shows_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(config_mod._HELP, "listen")
    row = next(s for s in settings() if s.toml == "listen")
    assert row.help == ""
    assert "CALLHOOK_LISTEN" in env_help()  # serve --help still works


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"CALLHOOK_LOG_FORMAT": "xml"}, "log_format"),
        ({"CALLHOOK_ACCESS_LOG": "maybe"}, "CALLHOOK_ACCESS_LOG"),
        ({"CALLHOOK_DISPATCH_CONCURRENCY": "0"}, "dispatch_concurrency"),
        ({"CALLHOOK_MAX_BODY_BYTES": "-1"}, "max_body_bytes"),
        ({"CALLHOOK_AMI_PING_INTERVAL": "0"}, "ami_ping_interval"),
    ],
)
def test_bad_values_name_their_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        load({}, env)


def test_json_log_lines_carry_the_stable_extra_fields() -> None:
    out = io.StringIO()
    configure("INFO", "json", stream=out)
    try:
        logging.getLogger("callhook.test").info(
            "delivery %s: %s", "dl_1", "dead", extra={"delivery_id": "dl_1", "subscription_id": "wh_2", "call_id": "c3"}
        )
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("callhook.test").exception("it broke")
    finally:
        configure("WARNING", "text")
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["message"] == "delivery dl_1: dead"
    assert (first["level"], first["logger"]) == ("INFO", "callhook.test")
    assert (first["delivery_id"], first["subscription_id"], first["call_id"]) == ("dl_1", "wh_2", "c3")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["ts"])
    assert "ValueError: boom" in second["exc"]
    assert isinstance(JsonFormatter().format(logging.makeLogRecord({"msg": "x", "obj": object()})), str)
