"""A call-centre load: Poisson arrivals on the directory's numbers, agents who answer or not.

Theory of operation
-------------------
One arrival script draws exponential gaps (rate ``Load.rate`` calls/s) and starts a
call of a kind drawn from ``Load.mix``: a queued call on a DID that leads to a queue
(through the IVR if the DID says so), a direct inbound call to an extension, an
outbound or internal call from an idle extension, or an inbound call that the
answering extension transfers (blind, or attended and cancelled), or that another
extension picks up while it rings (``**<exten>``). Agents answer an
offer after a random delay or let it ring out (``miss_p``); a phone that is busy
answers a direct call with BUSY. Agent scripts log the extensions that are not
static queue members in and out and send everybody to lunch (``Oběd``) once.

:func:`demo_load` is the load ``callhook demo`` runs by default: what the demo's
call centre (four agents, queues NOC and SALES) handles the way a real one of that
size does -- a service level around 80 % within 20 s, a few abandoned calls, some
missed calls to call back (mostly direct calls to a busy agent) -- with a first call
two seconds in, so the screens are busy at once. tests/unit/test_demo_load.py
measures it with the simulator, the tracker and the statistics.

Everything draws from one ``random.Random``, and the scheduler runs scripts in a
fixed order, so a seed gives the same events every time. Every call ends: waits are
bounded by the caller's patience and the dial timeouts.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from callhook.sources.simulator import calls, queues, transfers
from callhook.sources.simulator.engine import Engine, Script
from callhook.sources.simulator.pbx import Pbx
from callhook.sources.simulator.shapes import Member

__all__ = ["DEFAULT_MIX", "DEMO_MIX", "DEMO_RATE", "Load", "demo_load", "routes", "start_load"]

DEFAULT_MIX: Mapping[str, float] = {
    "queue": 0.55,
    "direct": 0.12,
    "outbound": 0.15,
    "internal": 0.05,
    "blind": 0.05,
    "attended": 0.05,
    "pickup": 0.03,
}


# the demo: mostly queue calls, few direct calls (a direct call to a busy agent is missed)
DEMO_MIX: Mapping[str, float] = {
    "queue": 0.70,
    "direct": 0.04,
    "outbound": 0.14,
    "internal": 0.04,
    "blind": 0.03,
    "attended": 0.03,
    "pickup": 0.02,
}
DEMO_RATE = 0.1  # calls per second: about 2 Erlangs of queue traffic on four agents


@dataclass(frozen=True, slots=True)
class Load:
    rate: float = 0.05  # calls per second
    duration_s: float | None = 3600.0  # no arrivals after this (None and no max_calls: until stopped)
    max_calls: int | None = None  # ... or after this many calls
    mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    answer_s: tuple[float, float] = (1.0, 8.0)  # an agent answers after this long
    miss_p: float = 0.15  # ... or lets the offer ring out
    talk_mean_s: float = 45.0
    patience_s: tuple[float, float] = (5.0, 60.0)  # a queued caller gives up after this long
    lunch_s: tuple[float, float] = (60.0, 300.0)
    lunch_p: float = 0.5  # the chance an agent goes to lunch during the run
    reason: str = "Oběd"
    first_s: float | None = None  # the first call after this many seconds (None: a random gap)

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("Load.rate must be positive (calls per second)")
        if self.duration_s is not None and self.duration_s <= 0:
            raise ValueError("Load.duration_s must be positive (or None: until stopped)")
        if self.first_s is not None and self.first_s < 0:
            raise ValueError("Load.first_s must not be negative")


def demo_load(rate: float = DEMO_RATE, duration_s: float = 600.0) -> Load:
    """The demo's call centre at ``rate`` calls per second (see the module docstring)."""
    return Load(
        rate=rate,
        duration_s=duration_s,
        mix=dict(DEMO_MIX),
        answer_s=(1.0, 6.0),
        miss_p=0.1,
        talk_mean_s=18.0,
        patience_s=(20.0, 120.0),
        lunch_s=(20.0, 60.0),
        first_s=2.0,
    )


def routes(pbx: Pbx) -> dict[str, tuple[str, str]]:
    """DID -> (kind, target) read from the directory's descriptions: queue, ivr (then a queue), ext."""
    out: dict[str, tuple[str, str]] = {}
    for did, text in pbx.directory.dids.items():
        q = re.search(r"queue (\S+)", text)
        e = re.search(r"extension (\S+)", text)
        if q is not None and pbx.directory.queue(q.group(1)) is not None:
            out[did] = ("ivr" if text.lower().startswith("ivr") else "queue", q.group(1))
        elif e is not None and pbx.directory.is_extension_number(e.group(1)):
            out[did] = ("ext", e.group(1))
    return out


def start_load(engine: Engine, load: Load, rng: random.Random) -> None:
    """Spawn the arrival script and the agents' scripts on ``engine``."""
    pbx = engine.pbx
    span: float | None = load.duration_s
    if span is None and load.max_calls is not None:
        span = load.max_calls / load.rate
    static = {m.interface.lower() for m in pbx.members.values()}
    ringall = [q.name for q in pbx.directory.queues if q.strategy == "ringall"] or [
        q.name for q in pbx.directory.queues
    ]
    for ext in pbx.directory.extensions:
        if not ext.channel:
            continue
        dynamic = ext.channel.lower() not in static and bool(ringall)
        engine.spawn(_agent(pbx, load, rng, ext.channel, ringall[0] if dynamic else "", span))
    engine.spawn(_arrivals(engine, load, rng))


_OPEN_ENDED_LUNCH_S = 1800.0  # a load that runs until stopped: lunch within the first half hour


def _agent(pbx: Pbx, load: Load, rng: random.Random, interface: str, login_to: str, span: float | None) -> Script:
    """Log in (a dynamic member), maybe go to lunch, log out at the end (never, if open-ended)."""
    end = None if span is None else pbx.now + span
    if login_to:
        yield rng.uniform(0.0, 30.0 if span is None else min(30.0, span / 4))
        queues.queue_add(pbx, login_to, interface)
    if rng.random() < load.lunch_p:
        window = _OPEN_ENDED_LUNCH_S if end is None else max(0.0, end - pbx.now)
        yield rng.uniform(0.0, window / 2)
        if any(m.interface == interface for m in pbx.members.values()):
            queues.queue_pause(pbx, interface, True, reason=load.reason)
            yield rng.uniform(*load.lunch_s)
            queues.queue_pause(pbx, interface, False)
    if login_to and end is not None:
        yield max(0.0, end - pbx.now)
        queues.queue_remove(pbx, login_to, interface)


def _arrivals(engine: Engine, load: Load, rng: random.Random) -> Script:
    pbx = engine.pbx
    stop = pbx.now + load.duration_s if load.duration_s is not None else None
    table = routes(pbx)
    kinds = [k for k, w in load.mix.items() if w > 0]
    weights = [load.mix[k] for k in kinds]
    made = 0
    while load.max_calls is None or made < load.max_calls:
        gap = load.first_s if made == 0 and load.first_s is not None else rng.expovariate(load.rate)
        if stop is not None and pbx.now + gap > stop:
            return
        yield gap
        made += 1
        key = pbx.call_key()
        engine.spawn(_call(pbx, key, load, rng, rng.choices(kinds, weights)[0], table), 0.0, key)


def _number(rng: random.Random) -> str:
    return rng.choice("67") + "".join(rng.choice("0123456789") for _ in range(8))


def _idle(pbx: Pbx, rng: random.Random, but: str = "") -> str | None:
    free = [
        e.number
        for e in pbx.directory.extensions
        if e.channel and e.number != but and pbx.device_state(e.channel) == "idle"
    ]
    return rng.choice(free) if free else None


def _call(pbx: Pbx, key: str, load: Load, rng: random.Random, kind: str, table: dict[str, tuple[str, str]]) -> Script:
    talk = min(rng.expovariate(1.0 / load.talk_mean_s), 10 * load.talk_mean_s) + 1.0
    hangup_by = rng.choice(("caller", "callee"))

    def decide(m: Member) -> float | None:
        return None if rng.random() < load.miss_p else rng.uniform(*load.answer_s)

    by_kind = {k: [d for d, (kk, _) in table.items() if kk in k] for k in (("queue", "ivr"), ("ext",))}
    if kind in ("outbound", "internal") and _idle(pbx, rng) is None:
        kind = "queue"  # every phone is busy: this arrival is an inbound call instead
    if kind == "queue" and by_kind[("queue", "ivr")]:
        did = rng.choice(by_kind[("queue", "ivr")])
        how, queue = table[did]
        digits = "".join(rng.choice("0123456789") for _ in range(6)) if how == "ivr" else ""
        yield from queues.queue_call(
            pbx,
            key,
            caller=_number(rng),
            did=did,
            queue=queue,
            decide=decide,
            patience_s=rng.uniform(*load.patience_s),
            talk_s=talk,
            digits=digits,
            hangup_by="caller" if hangup_by == "caller" else "agent",
        )
        return
    if kind in ("direct", "blind", "attended", "pickup", "queue") and by_kind[("ext",)]:
        did = rng.choice(by_kind[("ext",)])
        exten = table[did][1]
        busy = pbx.device_state(pbx.extension_device(exten)) != "idle"
        outcome = "busy" if busy else rng.choices(("answer", "abandon", "noanswer"), (0.8, 0.12, 0.08))[0]
        target = _idle(pbx, rng, but=exten) if kind in ("blind", "attended", "pickup") else None
        picker = target if kind == "pickup" and outcome == "answer" else None
        after = None
        if target is not None and outcome == "answer" and kind != "pickup":
            after = transfers.blind(target, talk_s=talk) if kind == "blind" else transfers.attended_cancelled(target)
        yield from calls.inbound_direct(
            pbx,
            key,
            caller=_number(rng),
            did=did,
            exten=exten,
            outcome=outcome,
            ring_s=rng.uniform(*load.answer_s),
            talk_s=talk,
            hangup_by=hangup_by,
            after_answer=after,
            picked_by=picker or "",
        )
        return
    own = _idle(pbx, rng)
    if own is None:  # no DID leads anywhere and every phone is busy
        return
    if kind == "internal":
        callee = _idle(pbx, rng, but=own)
        if callee is not None:
            yield from calls.internal(
                pbx,
                key,
                exten=own,
                callee=callee,
                ring_s=rng.uniform(*load.answer_s),
                talk_s=talk,
                answered=rng.random() > load.miss_p,
                hangup_by=hangup_by,
            )
            return
    yield from calls.outbound(
        pbx,
        key,
        exten=own,
        number=_number(rng),
        answered=rng.random() > 0.2,
        ring_s=rng.uniform(2.0, 9.0),
        talk_s=talk,
        hangup_by=hangup_by,
    )
