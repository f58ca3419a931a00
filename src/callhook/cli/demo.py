"""``callhook demo``: serve, a simulated PBX and a local receiver, so a newcomer sees calls flowing.

Everything runs in this one process, on 127.0.0.1 (the API on ``--listen``):

    simulator (AMI server, free port) --AMI--> callhook serve (SQLite in a temp dir)
        --webhooks, one subscription per dialect--> receiver (aiohttp, free port)

The simulator is the packaged demo PBX (``demo_directory.json``: the lab's
extensions, queues and AMI credentials) under the call-centre load of
``sources/simulator/load.py:demo_load``, ``--rate`` calls per second (Poisson; by
default what its four agents handle: about 80 % answered within 20 s). Once the
API answers, the demo subscribes the receiver through the HTTP API in every
dialect: voipex (HTTP Basic), pbx2is (GET), telphin, webitel and callhook (signed;
the receiver verifies), and logs agent 163 in to queue NOC through the actions API.

The terminal shows the live calls, the agents and the webhooks (``--no-ui``: plain
lines), sized to the terminal: 80x24 is enough, the addresses, the admin token and
the one-time dashboard link come first and are never cut. The link works once,
within 5 minutes; once used or expired the board shows a new one (``callhook
dashboard-link`` asks a running hub for one too). Ctrl-C or SIGTERM stops
everything; exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import logging
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from callhook.config import Config, ConfigError, parse_listen
from callhook.sources.simulator.load import DEMO_RATE

if TYPE_CHECKING:
    from callhook.bootstrap import Hub

__all__ = ["add_parser", "run"]

log = logging.getLogger(__name__)

LOAD_SPAN = 600.0  # seconds of arrivals per load; the demo starts another when one ends
STATUS_EVERY = 5.0
LINK_CHECK_EVERY = 1.0  # seconds between looks at whether the shown sign-in link was spent
BASIC_USER = "demo"


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo",
        help="serve + a simulated PBX + a local webhook receiver, shown live",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--listen",
        dest="demo_listen",
        default="127.0.0.1:8080",
        help="HOST:PORT of the API (default 127.0.0.1:8080; port 0: any free port)",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=DEMO_RATE,
        help=f"simulated calls per second (default {DEMO_RATE:g}: what the demo's four agents handle)",
    )
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--seed", type=int, default=None, help="seed of the simulated load (default: random)")
    p.add_argument(
        "--db",
        dest="demo_db",
        default="",
        help="SQLite file to keep (default: one in a temporary directory, deleted on exit)",
    )
    p.add_argument("--no-ui", action="store_true", help="plain log lines (automatic when stdout is not a terminal)")
    p.set_defaults(func=run)


@dataclasses.dataclass(slots=True)
class Secrets:
    """What the demo's subscriptions and its receiver share (never printed)."""

    password: str = dataclasses.field(default_factory=lambda: secrets.token_urlsafe(12))
    signing: str = dataclasses.field(
        default_factory=lambda: "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    )


def subscriptions(receiver_url: str, s: Secrets) -> list[dict[str, Any]]:
    """The webhook bodies the demo POSTs to /api/v1/webhooks, one per dialect."""
    return [
        {
            "url": f"{receiver_url}/voipex",
            "dialect": "voipex",
            "auth": {"username": BASIC_USER, "password": s.password},
            "description": "demo: VOIPEX JSON with HTTP Basic",
        },
        {"url": f"{receiver_url}/pbx2is", "dialect": "pbx2is", "method": "GET", "description": "demo: PBX2IS GET"},
        {"url": f"{receiver_url}/telphin", "dialect": "telphin", "description": "demo: Telphin agent events"},
        {"url": f"{receiver_url}/webitel", "dialect": "webitel", "description": "demo: Webitel queue hooks"},
        {
            "url": f"{receiver_url}/callhook",
            "dialect": "callhook",
            "secret": s.signing,
            "description": "demo: callhook JSON, signed",
        },
    ]


async def _wait_api(session: Any, api: str, hub: Hub, within: float = 15.0) -> None:
    import aiohttp

    deadline = time.monotonic() + within
    while True:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with session.get(f"{api}/healthz") as r:
                if r.status == 200 and (not hub.pbxes or hub.ami_connected):
                    return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the API at {api} (or the AMI link) did not come up within {within:g}s")
        await asyncio.sleep(0.1)


async def _setup(hub: Hub, api: str, receiver_url: str, s: Secrets, board: Any) -> None:
    """Subscribe the receiver in every dialect and log an agent in, through the HTTP API."""
    import aiohttp

    auth = {"Authorization": f"Bearer {hub.admin_token}"}
    async with aiohttp.ClientSession(headers=auth, timeout=aiohttp.ClientTimeout(total=20)) as session:
        await _wait_api(session, api, hub)
        for body in subscriptions(receiver_url, s):
            async with session.post(f"{api}/api/v1/webhooks", json=body) as r:
                got = await r.json()
                if r.status != 201:
                    raise RuntimeError(f"POST /api/v1/webhooks ({body['dialect']}): {r.status} {got}")
                board.say(f"demo: subscribed {got['id']} {body['dialect']:8} {got['method']} {body['url']}")
        login = {"exten": "163", "queue": "NOC"}
        async with session.post(f"{api}/api/v1/actions/agent/login", json=login) as r:
            if r.status == 200:
                board.say("demo: agent 163 logged in to queue NOC through POST /api/v1/actions/agent/login")
            else:
                board.say(f"demo: agent login through the API answered {r.status}")


async def _follow(hub: Hub, board: Any) -> None:
    listener = hub.broadcast.listen()
    try:
        while True:
            board.on_event(await listener.queue.get())
    finally:
        hub.broadcast.leave(listener)


async def _refill(server: Any, load: Any) -> None:
    """Another ``LOAD_SPAN`` of arrivals each time one ends, so the demo never goes quiet."""
    from callhook.sources.simulator.load import start_load

    while True:
        await asyncio.sleep(LOAD_SPAN)
        server.flush()
        start_load(server.sim.engine, load, server.sim.rng)
        server.wake()


async def demo(cfg: Config, args: argparse.Namespace, db: Path, directory_file: Path) -> int:
    from rich.console import Console

    import callhook.api.app  # noqa: F401 (imported now, so the simulated PBX does not run ahead of the hub)
    from callhook.cli.board import Board
    from callhook.cli.lab import free_port, lab, port_free
    from callhook.cli.serve import serve
    from callhook.receiver import Receiver
    from callhook.sources.simulator import Simulation
    from callhook.sources.simulator.load import demo_load
    from callhook.sources.simulator.server import ServerConfig, SimulatorServer

    host, port = parse_listen(args.demo_listen)
    if port == 0:
        port = free_port(host)
    elif not port_free(host, port):
        raise ConfigError(f"--listen: {host}:{port} is in use; pick another (port 0: any free port)")
    if args.rate <= 0:
        raise ConfigError(f"--rate: expected calls per second > 0, got {args.rate:g}")
    pbx = lab()
    directory_file.write_text(pbx.text, encoding="utf-8")  # noqa: ASYNC240 (once, before anything runs)
    keys = Secrets()
    plain = args.no_ui or not sys.stdout.isatty()
    receiver = Receiver(secret=keys.signing, basic=(BASIC_USER, keys.password))
    board = Board(Console(highlight=False), receiver, plain=plain)
    receiver.on_request = board.on_request
    load = demo_load(args.rate, LOAD_SPAN)
    seed = args.seed if args.seed is not None else secrets.randbelow(1 << 30)
    sim = Simulation(pbx.directory, start=time.time(), seed=seed, load=load)
    server = SimulatorServer(sim, ServerConfig(host="127.0.0.1", port=0, username=pbx.username, secret=pbx.secret))
    await receiver.start("127.0.0.1", 0)
    try:
        await server.start()
    except OSError:
        await receiver.close()
        raise
    ami_url = f"ami://{quote(pbx.username, safe='')}:{quote(pbx.secret, safe='')}@127.0.0.1:{server.port}"
    serve_cfg = dataclasses.replace(
        cfg,
        listen=f"{host}:{port}",
        database_url=f"sqlite:///{db}",
        ami_url=ami_url,
        directory=str(directory_file),
        admin_token="",
        allow_private_networks=True,
    )
    return await _run(serve_cfg, args, board, receiver, server, load, keys, serve)


async def _run(
    cfg: Config, args: argparse.Namespace, board: Any, receiver: Any, server: Any, load: Any, keys: Secrets, serve: Any
) -> int:
    host, port = cfg.host_port
    api = f"http://{host}:{port}"
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = [asyncio.create_task(_refill(server, load), name="demo-refill")]
    loop = asyncio.get_running_loop()
    if args.duration is not None:
        loop.call_later(args.duration, stop.set)

    def ready(hub: Hub) -> None:
        board.hub = hub
        board.api = api
        board.lines = [
            ("API", f"{api}/api/v1  (OpenAPI: {api}/docs)"),
            ("admin token", hub.admin_token),
            ("receiver", f"{receiver.url}  (voipex, pbx2is, telphin, webitel, callhook)"),
            ("simulator", f"AMI on 127.0.0.1:{server.port}, {load.rate:g} calls/s"),
        ]
        board.receiver_url, board.ami_port, board.rate = receiver.url, server.port, load.rate
        # a one-time code for this machine's browser (5 minutes, single use), not the token;
        # the board shows a new one once it is used or expired
        tasks.append(asyncio.create_task(_announce(board, api), name="demo-link"))
        tasks.append(asyncio.create_task(_follow(hub, board), name="demo-follow"))
        tasks.append(asyncio.create_task(_setup_or_stop(hub, api, receiver.url, keys, board, stop), name="demo-setup"))
        if board.plain:
            tasks.append(asyncio.create_task(_status(board), name="demo-status"))

    started = time.monotonic()
    live = _live(board) if not board.plain else contextlib.nullcontext()
    try:
        with live:
            code = int(await serve(cfg, banner=False, ready=ready, stop=stop))
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.close()
        await receiver.close()
    board.say(
        f"demo: stopped after {time.monotonic() - started:.1f}s: {board.calls} calls, "
        f"{sum(board.events.values())} events"
    )
    board.say(f"receiver: {receiver.summary()}")
    return code


async def _setup_or_stop(hub: Hub, api: str, receiver_url: str, keys: Secrets, board: Any, stop: asyncio.Event) -> None:
    try:
        await _setup(hub, api, receiver_url, keys, board)
    except Exception as exc:  # the demo cannot show anything without its subscriptions
        log.error("demo setup failed: %s", exc)
        stop.set()


async def _status(board: Any) -> None:
    while True:
        await asyncio.sleep(STATUS_EVERY)
        board.say(board.status_line())
        if await board.link_renewed():
            board.say(f"demo: dashboard: the sign-in link was used or expired; a new one: {board.dashboard_link()}")


async def _announce(board: Any, api: str) -> None:
    """The first sign-in link (its code is stored first), the lines; then, for the live view, fresh links."""
    await board.link_renewed()
    board.lines.append(("dashboard", f"{api}/  one-time sign-in: {board.dashboard_link()}"))
    if board.plain:  # the live view's header shows them (and _status keeps the link fresh here)
        for label, value in board.lines:
            board.say(f"demo: {label}: {value}")
        return
    while True:
        await asyncio.sleep(LINK_CHECK_EVERY)
        await board.link_renewed()


@contextlib.contextmanager
def _live(board: Any) -> Any:
    """The rich view; log records go above it (warnings and up) instead of tearing it."""
    from rich.live import Live
    from rich.logging import RichHandler

    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [RichHandler(console=board.console, level=logging.WARNING, show_path=False)]

    class _View:
        def __rich__(self) -> Any:
            return board.render()

    try:
        with Live(_View(), console=board.console, refresh_per_second=4, screen=False):
            yield
    finally:
        root.handlers = saved


def run(cfg: Config, args: argparse.Namespace) -> int:
    from callhook.cli.main import run_async

    with contextlib.ExitStack() as cleanup:
        if args.demo_db:
            db = Path(args.demo_db).resolve()
            workdir = db.parent
        else:
            workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="callhook-demo-")))
            db = workdir / "demo.db"
        return run_async(demo(cfg, args, db, workdir / "demo-directory.json"))
    return 0  # pragma: no cover (ExitStack does not swallow exceptions)
