"""Entry point of the ``callhook`` command: parses flags, loads the config once, runs a command."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Coroutine
from typing import Any

from callhook import __version__, logs
from callhook.config import ConfigError, load
from callhook.delivery.redact import install_log_redaction

__all__ = ["main", "run_async"]

CONFIG_KEYS = ("listen", "database_url", "ami_url", "directory", "log_level", "log_format", "access_log")


def run_async(coro: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def parser() -> argparse.ArgumentParser:
    from callhook.cli import check, demo, ops, receive, secrets_cmd, serve, simulate

    p = argparse.ArgumentParser(prog="callhook", description="Telephony events as durable, ordered webhooks.")
    p.add_argument("--version", action="version", version=f"callhook {__version__}")
    p.add_argument("--config", help="TOML config file (env CALLHOOK_CONFIG)")
    p.add_argument("--log-level", dest="log_level", help="DEBUG, INFO, WARNING or ERROR (env CALLHOOK_LOG_LEVEL)")
    p.add_argument(
        "--log-format",
        dest="log_format",
        choices=("text", "json"),
        help="text, or json: one object a line with the stable extra fields (env CALLHOOK_LOG_FORMAT)",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    serve.add_parser(sub)
    demo.add_parser(sub)
    simulate.add_parser(sub)
    receive.add_parser(sub)
    ops.add_parsers(sub)
    ops.add_link_parser(sub)
    check.add_parser(sub)
    secrets_cmd.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if not getattr(args, "func", None):
        p.print_help()
        return 2
    flags = {k: getattr(args, k, None) for k in CONFIG_KEYS}
    try:
        cfg = load(flags, dict(os.environ), args.config)  # the one place the environment is read
    except ConfigError as exc:
        print(f"callhook: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure(cfg.log_level, cfg.log_format, access_log=cfg.access_log)
    install_log_redaction()  # no log line carries a password, token or signing secret
    try:
        return int(args.func(cfg, args))
    except ConfigError as exc:
        print(f"callhook: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
