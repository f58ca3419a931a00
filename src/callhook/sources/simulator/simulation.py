"""A running simulated PBX: the model, the scheduler and what can be asked of it.

:class:`Simulation` is what the AMI server drives (and what tests can drive without
sockets): play a scenario, originate a click-to-dial, hang up a channel, add,
remove or pause queue members, and advance simulated time to collect the events.
:func:`simulate_events` feeds a tracker in-process: scenarios one after another,
or a call-centre load, as a plain iterator of AMI messages.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

from callhook.core.ami.message import AmiMessage
from callhook.core.directory import Directory
from callhook.sources.simulator import calls, queues
from callhook.sources.simulator.engine import Engine, Script
from callhook.sources.simulator.load import Load, start_load
from callhook.sources.simulator.pbx import Pbx
from callhook.sources.simulator.scenarios import script

__all__ = ["DEFAULT_START", "Simulation", "simulate_events"]

DEFAULT_START = 1_795_270_964.0  # 2026-11-21 14:22:44 UTC, when the lab recorded

Played = str | tuple[str, dict[str, Any]]


class Simulation:
    def __init__(
        self,
        directory: Directory,
        *,
        start: float = DEFAULT_START,
        seed: int = 0,
        noise: bool = True,
        load: Load | None = None,
    ) -> None:
        self.rng = random.Random(seed)  # noqa: S311 (a simulation, not a secret)
        self.pbx = Pbx(directory, start, self.rng, noise=noise)
        self.engine = Engine(self.pbx)
        if load is not None:
            start_load(self.engine, load, self.rng)

    @property
    def now(self) -> float:
        return self.pbx.now

    # ------------------------------------------------------------ commands
    def play(self, name: str, delay: float = 0.0, **params: Any) -> str:
        """Start a recorded scenario ``delay`` seconds from now; its call key."""
        key = self.pbx.call_key()
        self.engine.spawn(script(name, self.pbx, key, **params), delay, key)
        return key

    def play_in_turn(self, played: Sequence[Played], gap_s: float = 5.0) -> None:
        """Scenarios one after another, ``gap_s`` apart (a name or ``(name, params)`` each)."""
        if played:
            self.engine.spawn(_sequence(self, played, gap_s))

    def originate(self, exten: str, number: str, action_id: str = "", **params: Any) -> str:
        """AMI Originate of a click-to-dial: ``exten`` rings, then ``number`` is dialled."""
        key = self.pbx.call_key()
        self.engine.spawn(
            calls.click2dial(self.pbx, key, exten=exten, number=number, action_id=action_id, **params), 0.0, key
        )
        return key

    def hangup(self, channel: str, cause: int = 16) -> bool:
        """AMI Hangup: the whole call of that channel ends now. False if there is no such channel."""
        ch = next((c for c in self.pbx.channels.values() if c.name == channel), None)
        return ch is not None and self.engine.kill(ch.call, cause)

    def queue_add(self, queue: str, interface: str, name: str = "", paused: bool = False, reason: str = "") -> bool:
        return queues.queue_add(self.pbx, queue, interface, name, paused, reason)

    def queue_remove(self, queue: str, interface: str) -> bool:
        return queues.queue_remove(self.pbx, queue, interface)

    def queue_pause(self, interface: str, paused: bool, queue: str = "", reason: str = "") -> bool:
        return queues.queue_pause(self.pbx, interface, paused, queue, reason)

    # ---------------------------------------------------------------- time
    def advance(self, until: float) -> list[tuple[float, AmiMessage]]:
        """Everything that happens up to simulated time ``until`` (and what commands made meanwhile)."""
        return self.engine.advance(until)

    def next_time(self) -> float | None:
        return self.engine.next_time()

    def run(self, until: float | None = None) -> Iterator[tuple[float, AmiMessage]]:
        return self.engine.run(until)


def _sequence(sim: Simulation, played: Sequence[Played], gap_s: float) -> Script:
    for item in played:
        name, params = (item, {}) if isinstance(item, str) else item
        key = sim.pbx.call_key()
        yield from script(name, sim.pbx, key, **params)
        yield gap_s


def simulate_events(
    directory: Directory,
    *,
    scenarios: Sequence[Played] = (),
    load: Load | None = None,
    seed: int = 0,
    start: float = DEFAULT_START,
    gap_s: float = 5.0,
    noise: bool = True,
) -> Iterator[AmiMessage]:
    """AMI messages for a tracker, in time order: ``scenarios`` one after another (``gap_s``
    apart; a name or ``(name, params)``), alongside a ``load`` if one is given."""
    sim = Simulation(directory, start=start, seed=seed, noise=noise, load=load)
    sim.play_in_turn(scenarios, gap_s)
    for _, msg in sim.run():
        yield msg
