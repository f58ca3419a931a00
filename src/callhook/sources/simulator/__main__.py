"""Run the simulated PBX's AMI server until interrupted.

    python -m callhook.sources.simulator --directory lab-directory.json --port 5038 --rate 0.05

The simulated clock starts at the real time, so timestamps look current. With
``--scenario NAME`` (repeatable) the recorded scenarios are played in turn as well.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import time
from pathlib import Path

from callhook.core.directory import Directory, DirectoryError
from callhook.sources.simulator.load import Load
from callhook.sources.simulator.scenarios import NAMES
from callhook.sources.simulator.server import ServerConfig, SimulatorServer
from callhook.sources.simulator.simulation import Simulation


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m callhook.sources.simulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--directory", required=True, type=Path, help="PBX directory (JSON, like lab-directory.json)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5038)
    p.add_argument("--username", default="lab")
    p.add_argument("--secret", default="labsecret")
    p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    p.add_argument("--rate", type=float, default=0.05, help="calls per second (0: no load)")
    p.add_argument("--duration", type=float, default=None, help="seconds of arrivals (default: until stopped)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scenario", action="append", default=[], choices=NAMES)
    return p.parse_args(argv)


async def _serve(sim: Simulation, config: ServerConfig) -> None:
    async with SimulatorServer(sim, config) as server:
        logging.getLogger(__name__).info("AMI simulator on %s:%d (speed %g)", config.host, server.port, config.speed)
        await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        directory = Directory.from_mapping(json.loads(args.directory.read_text(encoding="utf-8")))
    except (OSError, ValueError, DirectoryError) as exc:
        raise SystemExit(f"--directory {args.directory}: {exc}") from None
    load = Load(rate=args.rate, duration_s=args.duration) if args.rate > 0 else None
    sim = Simulation(directory, start=time.time(), seed=args.seed, load=load)
    sim.play_in_turn(args.scenario)
    config = ServerConfig(host=args.host, port=args.port, username=args.username, secret=args.secret, speed=args.speed)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(sim, config))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
