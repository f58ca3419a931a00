"""``callhook simulate``: a simulated call centre, served over AMI or posted to a running callhook.

Two ways out (one is required):

``--ami-listen HOST:PORT``
    serve real AMI (banner, Login, actions, events) for any AMI client: ``callhook
    serve --ami ami://lab:labsecret@HOST:PORT`` or your own. Port 0 picks a free one;
    the address is printed first.
``--target URL``
    run the same PBX through callhook's tracker here and POST each canonical event
    as callhook's native JSON to ``URL/ingest/callhook`` (authenticated with
    ``--token`` / ``CALLHOOK_TOKEN``). The hub stores and delivers them like any
    ingested event (its live call view, fed by AMI only, does not show them). A hub
    without that route is reported as such and nothing else is sent.

The PBX is the packaged demo directory (or ``--directory``), the load ``--rate`` calls
per second, plus ``--scenario NAME`` recordings played in turn. Like the PBX it stands
in for, it runs until stopped (Ctrl-C or SIGTERM, exit 0), or for ``--duration``
seconds. ``--manager-conf FILE`` takes the AMI user from an Asterisk ``manager.conf``
(``--manager-user``, default the first user section): its secret, ``read`` classes and
``eventfilter`` lines, read the way Asterisk 23 reads them; lines Asterisk would
ignore are listed on stderr. A status line runs meanwhile; a summary (calls, AMI
messages, sessions or events posted) ends it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callhook.config import Config, ConfigError, parse_listen
from callhook.core.ami.message import AmiMessage
from callhook.sources.simulator import NAMES, Simulation

if TYPE_CHECKING:
    from callhook.sources.simulator.filters import EventFilterEntry

__all__ = ["CountingSimulation", "ServerUser", "add_parser", "manager_user", "run"]

TICK = 0.1


@dataclass(frozen=True, slots=True)
class ServerUser:
    """The AMI user the simulator accepts, when it comes from a manager.conf."""

    name: str
    secret: str
    read: frozenset[str]
    filters: tuple[EventFilterEntry, ...]


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "simulate",
        help="a simulated PBX: serve AMI, or post events to a running callhook",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--ami-listen", metavar="HOST:PORT", help="serve AMI here (port 0: any free port)")
    out.add_argument("--target", metavar="URL", help="a running callhook: POST events to URL/ingest/callhook")
    p.add_argument("--rate", type=float, default=0.5, help="calls per second (default 0.5; 0: scenarios only)")
    p.add_argument("--duration", type=float, default=None, help="seconds to run (default: until stopped)")
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        choices=NAMES,
        metavar="NAME",
        help=f"also play this recorded scenario (repeatable): {', '.join(NAMES)}",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the load (default 0: the same run every time)")
    p.add_argument("--directory", help="PBX directory, JSON (default: the packaged demo PBX; env CALLHOOK_DIRECTORY)")
    p.add_argument("--username", default="", help="AMI user to accept (default: the directory's ami.username)")
    p.add_argument("--secret", default="", help="AMI secret to accept (default: the directory's ami.secret)")
    p.add_argument("--token", help="API token for --target (env CALLHOOK_TOKEN)")
    p.add_argument(
        "--manager-conf",
        metavar="FILE",
        help="an Asterisk manager.conf: the AMI user, its read classes, its eventfilters",
    )
    p.add_argument("--manager-user", metavar="NAME", help="the manager.conf section to use (default: the first user)")
    p.set_defaults(func=run)


class CountingSimulation(Simulation):
    """A :class:`Simulation` that counts what it produces: AMI messages and new calls."""

    messages = 0
    calls = 0

    def advance(self, until: float) -> list[tuple[float, AmiMessage]]:
        out = super().advance(until)
        self.messages += len(out)
        self.calls += sum(1 for _, m in out if m.event == "Newchannel" and m.get("Uniqueid") == m.get("Linkedid"))
        return out


def _simulation(cfg: Config, args: argparse.Namespace) -> tuple[CountingSimulation, str, str]:
    from callhook.cli.lab import lab
    from callhook.sources.simulator import Load

    if args.duration is not None and args.duration <= 0:
        raise ConfigError(f"--duration: expected seconds > 0, got {args.duration:g}")
    if args.rate < 0:
        raise ConfigError(f"--rate: expected calls per second >= 0, got {args.rate:g}")
    pbx = lab(cfg.directory)
    load = Load(rate=args.rate, duration_s=args.duration) if args.rate > 0 else None
    sim = CountingSimulation(pbx.directory, start=time.time(), seed=args.seed, load=load)
    sim.play_in_turn(args.scenario)
    return sim, args.username or pbx.username, args.secret or pbx.secret


def _progress(total: float | None) -> Any:
    """A bar for a bounded run; elapsed time and figures only for one that runs until stopped."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(highlight=False)
    columns = [TextColumn("simulate"), *([BarColumn()] if total else []), TimeElapsedColumn()]
    return Progress(*columns, TextColumn("{task.fields[stats]}"), console=console, disable=not console.is_terminal)


def _for(duration: float | None) -> str:
    return f"for {duration:g}s" if duration else "until stopped"


def manager_user(args: argparse.Namespace) -> ServerUser | None:
    """The AMI user of ``--manager-conf`` (secret, read classes, filters), or None without one."""
    from callhook.sources.simulator.manager_conf import parse_manager_conf

    if not args.manager_conf:
        if args.manager_user:
            raise ConfigError("--manager-user: needs --manager-conf")
        return None
    try:
        text = Path(args.manager_conf).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--manager-conf {args.manager_conf}: {exc.strerror or exc}") from None
    conf = parse_manager_conf(text, Path(args.manager_conf).name)
    for warning in conf.warnings:
        print(f"callhook simulate: {warning}", file=sys.stderr)
    if not conf.users:
        raise ConfigError(f"--manager-conf {args.manager_conf}: no user section")
    name = args.manager_user or next(iter(conf.users))
    user = conf.users.get(name)
    if user is None:
        raise ConfigError(
            f"--manager-user: no section [{name}] in {args.manager_conf}; there are {', '.join(conf.users)}"
        )
    if not user.secret:
        raise ConfigError(f"--manager-conf {args.manager_conf}: [{name}] has no secret")
    return ServerUser(name, user.secret, user.read, tuple(user.filters))


async def serve_ami(
    sim: CountingSimulation, args: argparse.Namespace, username: str, secret: str, user: ServerUser | None = None
) -> int:
    from callhook.cli.lifetime import Lifetime
    from callhook.sources.simulator.server import ServerConfig, SimulatorServer

    host, port = parse_listen(args.ami_listen)
    config = ServerConfig(host=host, port=port, username=username, secret=secret)
    if user is not None:
        config = ServerConfig(
            host=host, port=port, username=user.name, secret=user.secret, read=user.read, filters=user.filters
        )
        username = user.name
    server = SimulatorServer(sim, config)
    try:
        await server.start()
    except OSError as exc:
        print(f"callhook simulate: cannot listen on {args.ami_listen}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    filters = f", {len(config.filters)} eventfilters" if config.filters else ""
    print(
        f"simulate: AMI on {host}:{server.port} (user {username}{filters}); {args.rate:g} calls/s "
        f"{_for(args.duration)}; Ctrl-C to stop",
        flush=True,
    )
    started = time.monotonic()
    try:
        async with Lifetime(args.duration) as life:
            with _progress(args.duration) as progress:
                task = progress.add_task("", total=args.duration, stats="")
                while not await life.wait(TICK):
                    live = sum(1 for s in server.sessions if s.logged_in)
                    progress.update(
                        task,
                        completed=time.monotonic() - started,
                        stats=f"{sim.calls} calls, {sim.messages} messages, {live} sessions",
                    )
                progress.update(task, completed=args.duration or time.monotonic() - started)
    finally:
        await server.close()
    print(
        f"simulate: {time.monotonic() - started:.1f}s: {sim.calls} calls, {sim.messages} AMI messages, "
        f"{server.logins} sessions (peak {server.peak})",
        flush=True,
    )
    return 0


async def post_events(sim: CountingSimulation, args: argparse.Namespace, token: str) -> int:
    from callhook.cli.lifetime import Lifetime
    from callhook.cli.poster import Poster, PostError
    from callhook.core.events import new_event_id
    from callhook.core.tracker.tracker import Tracker

    tracker = Tracker(sim.pbx.directory, lambda ts: new_event_id(int(ts.timestamp() * 1000)), UTC)
    start_real, start_sim = time.monotonic(), sim.now
    async with Poster(args.target, token) as poster:
        try:
            await poster.check()
        except PostError as exc:
            print(f"callhook simulate: {exc}", file=sys.stderr)
            return 2
        print(
            f"simulate: posting to {poster.ingest_url}; {args.rate:g} calls/s {_for(args.duration)}; Ctrl-C to stop",
            flush=True,
        )
        try:
            async with Lifetime(args.duration) as life:
                with _progress(args.duration) as progress:
                    task = progress.add_task("", total=args.duration, stats="")
                    while not await life.wait(TICK):
                        elapsed = time.monotonic() - start_real
                        for _, msg in sim.advance(start_sim + elapsed):
                            for ev in tracker.feed(msg, datetime.now(UTC)):
                                await poster.post(ev)
                        progress.update(
                            task, completed=elapsed, stats=f"{sim.calls} calls, {poster.posted} events posted"
                        )
                    progress.update(task, completed=args.duration or time.monotonic() - start_real)
        except PostError as exc:
            print(f"callhook simulate: {exc}", file=sys.stderr)
            return 1
        print(
            f"simulate: {time.monotonic() - start_real:.1f}s: {sim.calls} calls, {sim.messages} AMI messages, "
            f"{poster.posted} events posted to {poster.ingest_url}",
            flush=True,
        )
    return 0


def run(cfg: Config, args: argparse.Namespace) -> int:
    from callhook.cli.main import run_async

    user = manager_user(args)
    if user is not None and args.target:
        raise ConfigError("--manager-conf: only with --ami-listen")
    sim, username, secret = _simulation(cfg, args)
    if args.ami_listen:
        return run_async(serve_ami(sim, args, username, secret, user))
    token = args.token or dict(os.environ).get("CALLHOOK_TOKEN", "")
    return run_async(post_events(sim, args, token))
