"""Settings, built once from the command line, the environment and an optional TOML file.

Precedence: command-line flag > environment (``CALLHOOK_*``) > TOML file
(``--config`` / ``CALLHOOK_CONFIG``) > default. Nothing below the composition root
reads ``os.environ``: :func:`load` is called by the CLI and the result is passed down.

| setting          | flag          | environment              | default                      |
|------------------|---------------|--------------------------|------------------------------|
| listen           | --listen      | CALLHOOK_LISTEN          | 127.0.0.1:8080               |
| database_url     | --db          | CALLHOOK_DATABASE_URL    | sqlite:///callhook.db (cwd)  |
| ami_url          | --ami         | CALLHOOK_AMI_URL         | none (no PBX)                |
| directory        | --directory   | CALLHOOK_DIRECTORY       | none (empty directory)       |
| admin_token      |               | CALLHOOK_ADMIN_TOKEN     | generated, printed once      |
| timezone         |               | CALLHOOK_TIMEZONE        | UTC (or the directory's)     |
| allow_private    |               | CALLHOOK_ALLOW_PRIVATE_NETWORKS | true                  |
| log_level        | --log-level   | CALLHOOK_LOG_LEVEL       | INFO                         |
| sender           |               | CALLHOOK_SENDER          | curl (or aiohttp)            |
| tenant tokens    |               | CALLHOOK_TENANT_TOKENS   | none ("tenant:token,...")    |
| telphin limit    |               | CALLHOOK_TELPHIN_LIMIT   | 10 subscriptions per client  |
| secret keys      |               | CALLHOOK_SECRET_KEYS     | none: secrets stored in clear |

In the TOML file, tenant tokens are a table ``[tenant_tokens]`` of ``token = "tenant"``.
They land in ``Config.extra["tenant_tokens"]`` (token -> tenant). The secret keys
(Fernet keys, comma-separated in the environment, a list ``secret_keys = [...]`` in
the file; the first encrypts, all decrypt) land in ``Config.extra["secret_keys"]``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["Config", "ConfigError", "load", "parse_listen"]


class ConfigError(ValueError):
    """A setting is invalid; the message names the key."""


@dataclass(frozen=True, slots=True)
class Config:
    listen: str = "127.0.0.1:8080"
    database_url: str = "sqlite:///callhook.db"
    ami_url: str = ""
    directory: str = ""
    admin_token: str = ""
    timezone: str = "UTC"
    allow_private_networks: bool = True
    sender: str = "curl"  # the HTTP client for webhooks: curl (pycurl, faster) or aiohttp
    log_level: str = "INFO"
    # click-to-dial dial plan (the click2dial fixture's shape)
    originate_context: str = "click2dial"
    originate_variable: str = "C2D_EXTEN"
    originate_timeout_ms: int = 30000
    ami_ping_interval: float = 20.0
    dispatch_concurrency: int = 512
    endpoint_concurrency: int = 16
    max_body_bytes: int = 1 << 20
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def host_port(self) -> tuple[str, int]:
        return parse_listen(self.listen)


_ENV = {
    "listen": "CALLHOOK_LISTEN",
    "database_url": "CALLHOOK_DATABASE_URL",
    "ami_url": "CALLHOOK_AMI_URL",
    "directory": "CALLHOOK_DIRECTORY",
    "admin_token": "CALLHOOK_ADMIN_TOKEN",
    "timezone": "CALLHOOK_TIMEZONE",
    "allow_private_networks": "CALLHOOK_ALLOW_PRIVATE_NETWORKS",
    "log_level": "CALLHOOK_LOG_LEVEL",
    "sender": "CALLHOOK_SENDER",
    "originate_context": "CALLHOOK_ORIGINATE_CONTEXT",
    "originate_variable": "CALLHOOK_ORIGINATE_VARIABLE",
    "dispatch_concurrency": "CALLHOOK_DISPATCH_CONCURRENCY",
}


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


def _coerce(name: str, value: Any, kind: Any) -> Any:
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
    if "CALLHOOK_TELPHIN_LIMIT" in environ:
        extra["telphin_limit"] = _coerce("CALLHOOK_TELPHIN_LIMIT", environ["CALLHOOK_TELPHIN_LIMIT"], int)
    values["extra"] = extra
    cfg = Config(**values)
    parse_listen(cfg.listen)
    if cfg.ami_url and not cfg.ami_url.startswith("ami://"):
        raise ConfigError(f"ami: expected ami://USER:SECRET@HOST:PORT, got a URL starting {cfg.ami_url[:8]!r}")
    if cfg.sender not in ("curl", "aiohttp"):
        raise ConfigError(f"sender: expected curl or aiohttp, got {cfg.sender!r}")
    if cfg.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"log_level: expected DEBUG, INFO, WARNING or ERROR, got {cfg.log_level!r}")
    return cfg
