"""``callhook serve``: the API, the dispatcher and the AMI source in one process."""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
from typing import Any

from callhook.config import Config

__all__ = ["BindError", "add_parser", "bind", "run", "serve"]

log = logging.getLogger("callhook.serve")


def add_parser(sub: Any) -> None:
    from callhook.config import env_help

    p: argparse.ArgumentParser = sub.add_parser(
        "serve",
        help="run the API, the dispatcher and the AMI source",
        description="Run the API, the dispatcher and the AMI source until SIGINT or SIGTERM.",
        epilog=env_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--config",
        default=argparse.SUPPRESS,  # absent: the one given before the command (callhook --config F serve)
        help="TOML config file, e.g. with [[pbx]] tables (env CALLHOOK_CONFIG; docs/configuration.md)",
    )
    p.add_argument("--listen", help="HOST:PORT to listen on (env CALLHOOK_LISTEN; default 127.0.0.1:8080)")
    p.add_argument(
        "--db",
        dest="database_url",
        help="database URL: sqlite:///file.db or postgresql://... (env CALLHOOK_DATABASE_URL)",
    )
    p.add_argument("--ami", dest="ami_url", help="ami://USER:SECRET@HOST:PORT (env CALLHOOK_AMI_URL)")
    p.add_argument("--directory", help="PBX directory file, JSON or TOML (env CALLHOOK_DIRECTORY)")
    p.add_argument(
        "--access-log",
        dest="access_log",
        action="store_true",
        default=None,
        help="log one line per API request as callhook.access (env CALLHOOK_ACCESS_LOG)",
    )
    p.set_defaults(func=run)


class BindError(Exception):
    """The listen address cannot be had (in use, not ours, a bad host)."""


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else starts (so a taken port is one clear error)."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise BindError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise BindError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock


class _Server:
    """uvicorn's server without its signal capture: SIGTERM/SIGINT end ``serve`` and the
    process then stops the hub itself (uvicorn would re-raise the signal and kill the
    process before the dispatcher and the store were closed)."""

    def __new__(cls, config: Any) -> Any:
        import contextlib

        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Any:
                yield

        return Server(config)


async def serve(cfg: Config, *, banner: bool = True, ready: Any = None, stop: asyncio.Event | None = None) -> int:
    """Run until SIGTERM/SIGINT (or ``stop`` is set, for an embedding command such as ``demo``)."""
    import signal

    import uvicorn

    from callhook.api.app import create_app
    from callhook.bootstrap import build
    from callhook.sources.election import AlreadyRunning

    host, port = cfg.host_port
    try:
        sock = bind(host, port)  # first: a port in use stops here, before anything starts or says "listening"
    except BindError as exc:
        print(f"callhook: {exc}", file=sys.stderr, flush=True)
        return 2
    try:
        hub = build(cfg)
    except BaseException:
        sock.close()
        raise
    if banner and not cfg.admin_token:
        print(f"callhook: admin token (shown once): {hub.admin_token}", flush=True)
    try:
        await hub.start()
    except AlreadyRunning as exc:
        sock.close()
        print(f"callhook: {exc}", file=sys.stderr, flush=True)
        return 2
    except BaseException:
        sock.close()
        raise
    server = _Server(
        uvicorn.Config(
            create_app(hub),
            host=host,
            port=port,
            log_config=None,  # callhook.logs configured the loggers (text or JSON, access log or not)
            log_level=None,
            access_log=cfg.access_log,
            lifespan="off",
            limit_concurrency=2000,
        )
    )
    loop = asyncio.get_running_loop()

    def stop_now() -> None:
        server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_now)
    stopper: asyncio.Task[None] | None = None
    if stop is not None:

        async def stop_when_told() -> None:
            await stop.wait()
            stop_now()

        stopper = asyncio.create_task(stop_when_told(), name="serve-stop")
    exit_code = 0

    def ami_ended(task: asyncio.Task[None]) -> None:
        nonlocal exit_code
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            print(f"callhook: AMI: {exc}", file=sys.stderr, flush=True)
            exit_code = 2
            server.should_exit = True

    for link in hub.pbxes:
        if link.task is not None:
            link.task.add_done_callback(ami_ended)
    log.info("listening on http://%s:%d", host, port)
    if ready is not None:
        ready(hub)
    try:
        await server.serve(sockets=[sock])
    finally:
        sock.close()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if stopper is not None:
            stopper.cancel()
        await hub.stop()
    log.info("stopped")
    return exit_code


def run(cfg: Config, args: argparse.Namespace) -> int:
    from callhook.cli.main import run_async

    return run_async(serve(cfg))
