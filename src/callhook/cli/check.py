"""``callhook check``: is this configuration ready to serve? Config, directory, AMI, database.

Takes the same settings as ``serve`` (flags, ``CALLHOOK_*``, ``--config``) and checks,
each on its own so that one failure does not hide the next:

directory  the file reads and validates (none configured is fine: an empty directory)
ami        TCP connect, the banner, ``Login`` with the configured user and secret, ``Logoff``
database   the store opens (migrations applied) and answers ``counts``; a SQLite file
           that does not exist yet is reported, not created

A configuration error is reported by the command line itself (exit 2). Exit 0 when
every check passed, 1 otherwise. ``--json`` for scripts. Secrets are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from callhook.config import Config, ConfigError

__all__ = ["Result", "add_parser", "check_ami", "check_database", "check_directory", "run"]


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    ok: bool
    message: str


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "check",
        help="check the config, the directory, the AMI login and the database",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--db", dest="database_url", help="database URL (env CALLHOOK_DATABASE_URL)")
    p.add_argument("--ami", dest="ami_url", help="ami://USER:SECRET@HOST:PORT (env CALLHOOK_AMI_URL)")
    p.add_argument("--directory", help="PBX directory file (env CALLHOOK_DIRECTORY)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds for each network step (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def _shown_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (the rest as given)."""
    try:
        parts = urlsplit(url)
        secret = parts.password
    except ValueError:
        return "(unparsable URL)"
    if not secret:
        return url
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{parts.netloc.rpartition('@')[2]}"))


def check_directory(path: str) -> Result:
    from callhook.bootstrap import load_directory

    if not path:
        return Result("directory", True, "none configured (an empty directory: no names, lines or queues)")
    try:
        d = load_directory(path)
    except ConfigError as exc:
        return Result("directory", False, str(exc))
    return Result(
        "directory",
        True,
        f"{path}: {len(d.extensions)} extensions, {len(d.trunks)} trunks, {len(d.queues)} queues, {len(d.dids)} DIDs",
    )


async def _answer(reader: asyncio.StreamReader, parser: Any, action_id: str) -> Any:
    while True:
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        for msg in parser.feed(data):
            if msg.action_id == action_id:
                return msg


async def _banner(reader: asyncio.StreamReader, parser: Any) -> str:
    while parser.banner is None:
        data = await reader.read(65536)
        if not data:
            raise ConnectionError("the server closed the connection before its banner")
        parser.feed(data)
    return str(parser.banner)


async def check_ami(url: str, timeout: float) -> Result:  # noqa: ASYNC109 (a per-step bound)
    from callhook.core.ami import actions
    from callhook.core.ami.codec import AmiParser
    from callhook.sources.ami_client import parse_ami_url

    if not url:
        return Result("ami", True, "not configured (serve runs without a PBX)")
    try:
        host, port, user, secret = parse_ami_url(url)
    except ValueError as exc:
        return Result("ami", False, str(exc))
    where = f"{host}:{port}"
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as exc:
        why = getattr(exc, "strerror", None) or ("timed out" if isinstance(exc, TimeoutError) else str(exc))
        return Result("ami", False, f"cannot connect to {where}: {why}")
    parser = AmiParser()
    try:
        async with asyncio.timeout(timeout):
            banner = await _banner(reader, parser)
            writer.write(actions.login(user, secret, events_mask="off").to_bytes("check-login"))
            answer = await _answer(reader, parser, "check-login")
            if answer.response.lower() != "success":
                return Result(
                    "ami",
                    False,
                    f"{where} ({banner}): login refused for user {user!r}: {answer.get('Message') or answer.response}",
                )
            writer.write(actions.logoff().to_bytes("check-logoff"))
            await writer.drain()
    except TimeoutError:
        return Result("ami", False, f"{where}: no AMI answer within {timeout:g}s (is it an AMI port?)")
    except (OSError, ConnectionError) as exc:
        return Result("ami", False, f"{where}: {exc}")
    finally:
        writer.close()
    if not banner.startswith("Asterisk Call Manager"):
        return Result("ami", False, f"{where}: logged in, but the banner {banner[:60]!r} is not Asterisk's")
    return Result("ami", True, f"{where}: {banner}; logged in as {user!r} and off again")


def _sqlite_file(url: str) -> Path | None:
    if url.startswith(("memory:", "postgres")):
        return None
    path = url.removeprefix("sqlite:")
    return Path(path[3:] if path.startswith("///") else path)


async def check_database(url: str) -> Result:
    from callhook.store import open_store

    shown = _shown_url(url)
    file = _sqlite_file(url)
    if file is not None and not file.exists():
        if not file.parent.is_dir():
            return Result("database", False, f"{shown}: the directory {file.parent} does not exist")
        return Result("database", True, f"{shown}: no file yet (serve creates it)")
    try:
        store = open_store(url)
        await store.open()
        try:
            counts = await store.counts()
            subs = await store.list_subscriptions()
        finally:
            await store.close()
    except Exception as exc:  # any backend failure is the answer here
        cause = exc.__cause__ or exc
        return Result("database", False, f"{shown}: {type(cause).__name__}: {' '.join(str(cause).split())}")
    return Result(
        "database",
        True,
        f"{shown}: {len(subs)} webhooks, backlog {counts.backlog}, dead {counts.dead}, expired {counts.expired}",
    )


async def check(cfg: Config, timeout: float) -> list[Result]:  # noqa: ASYNC109
    ami = _shown_url(cfg.ami_url) if cfg.ami_url else "none"
    summary = (
        f"listen {cfg.listen}, database {_shown_url(cfg.database_url)}, AMI {ami}, directory {cfg.directory or 'none'}"
    )
    return [
        Result("config", True, summary),
        check_directory(cfg.directory),
        await check_ami(cfg.ami_url, timeout),
        await check_database(cfg.database_url),
    ]


def run(cfg: Config, args: argparse.Namespace) -> int:
    from callhook.cli.main import run_async

    results: list[Result] = []

    async def go() -> int:
        results.extend(await check(cfg, args.timeout))
        return 0

    run_async(go())
    failed = [r.name for r in results if not r.ok]
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [asdict(r) for r in results]}, indent=2))
    else:
        for r in results:
            print(f"{r.name:10} {'OK' if r.ok else 'FAIL':5} {r.message}")
        print(
            "check: all OK" if not failed else f"check: {len(failed)} failed: {', '.join(failed)}",
            file=sys.stdout if not failed else sys.stderr,
        )
    return 1 if failed else 0
