"""The 17 recorded scenarios, parameterised, with the recordings' values as defaults.

``scenario(name, directory, start_ts, **params)`` plays one scenario on a fresh
simulated PBX and returns its AMI events as ``(seconds from start, message)``.
``script(name, pbx, key, **params)`` gives the same as a script to run on a live
PBX (the AMI server's Originate uses ``click2dial``). The parameters of each
scenario are the keyword arguments of its function below.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Mapping
from typing import Any

from callhook.core.ami.message import AmiMessage
from callhook.core.directory import Directory
from callhook.sources.simulator import calls, queues, transfers
from callhook.sources.simulator.engine import Engine, Script
from callhook.sources.simulator.pbx import Pbx
from callhook.sources.simulator.shapes import Member

__all__ = ["NAMES", "answers", "scenario", "script"]


def answers(directory: Directory, table: Mapping[str, float]) -> queues.Decide:
    """A fixed choice: extension number -> seconds until it answers; the others ring out."""

    def decide(m: Member) -> float | None:
        ext = directory.extension_of_channel(m.interface + "-0")
        return table.get(ext.number) if ext is not None else None

    return decide


def inbound_ringall_answered(
    pbx: Pbx,
    key: str,
    *,
    caller: str = "777888999",
    did: str = "222333444",
    queue: str = "NOC",
    answered_by: str = "21",
    ring_s: float = 2.0,
    talk_s: float = 3.0,
    hangup_by: str = "caller",
) -> Script:
    return queues.queue_call(
        pbx,
        key,
        caller=caller,
        did=did,
        queue=queue,
        talk_s=talk_s,
        hangup_by=hangup_by,
        decide=answers(pbx.directory, {answered_by: ring_s}),
    )


def inbound_ringall_missed(
    pbx: Pbx,
    key: str,
    *,
    caller: str = "777888999",
    did: str = "222333444",
    queue: str = "NOC",
    patience_s: float = 8.0,
) -> Script:
    return queues.queue_call(
        pbx, key, caller=caller, did=did, queue=queue, patience_s=patience_s, decide=answers(pbx.directory, {})
    )


def inbound_direct_answered(
    pbx: Pbx,
    key: str,
    *,
    caller: str = "604198497",
    did: str = "910104219",
    exten: str = "20",
    ring_s: float = 2.0,
    talk_s: float = 3.5,
    hangup_by: str = "callee",
    picked_by: str = "",
) -> Script:
    """``picked_by``: another extension takes the ringing call with ``**<exten>`` (not in the recordings)."""
    return calls.inbound_direct(
        pbx,
        key,
        caller=caller,
        did=did,
        exten=exten,
        ring_s=ring_s,
        talk_s=talk_s,
        hangup_by=hangup_by,
        picked_by=picked_by,
    )


def inbound_direct_busy(
    pbx: Pbx, key: str, *, caller: str = "604198497", did: str = "910104222", exten: str = "22"
) -> Script:
    return calls.inbound_direct(pbx, key, caller=caller, did=did, exten=exten, outcome="busy")


def caller_abandons_while_ringing_direct(
    pbx: Pbx, key: str, *, caller: str = "777888999", did: str = "910104221", exten: str = "21", ring_s: float = 3.0
) -> Script:
    return calls.inbound_direct(pbx, key, caller=caller, did=did, exten=exten, outcome="abandon", ring_s=ring_s)


def outbound_answered(
    pbx: Pbx,
    key: str,
    *,
    exten: str = "20",
    number: str = "777888999",
    ring_s: float = 2.0,
    talk_s: float = 3.0,
    hangup_by: str = "caller",
) -> Script:
    return calls.outbound(pbx, key, exten=exten, number=number, ring_s=ring_s, talk_s=talk_s, hangup_by=hangup_by)


def outbound_noanswer(
    pbx: Pbx, key: str, *, exten: str = "20", number: str = "601234567", timeout_s: float = 10.0
) -> Script:
    return calls.outbound(pbx, key, exten=exten, number=number, answered=False, timeout_s=timeout_s)


def internal_call(
    pbx: Pbx,
    key: str,
    *,
    exten: str = "20",
    callee: str = "21",
    ring_s: float = 2.0,
    talk_s: float = 3.0,
    hangup_by: str = "caller",
) -> Script:
    return calls.internal(pbx, key, exten=exten, callee=callee, ring_s=ring_s, talk_s=talk_s, hangup_by=hangup_by)


def click2dial(
    pbx: Pbx,
    key: str,
    *,
    exten: str = "20",
    number: str = "123456789",
    action_id: str = "pbx-11",
    ring_s: float = 1.0,
    answer_s: float = 2.0,
    talk_s: float = 3.5,
    hangup_by: str = "callee",
) -> Script:
    return calls.click2dial(
        pbx,
        key,
        exten=exten,
        number=number,
        action_id=action_id,
        ring_s=ring_s,
        answer_s=answer_s,
        talk_s=talk_s,
        hangup_by=hangup_by,
    )


def attended_transfer_cancelled(
    pbx: Pbx,
    key: str,
    *,
    caller: str = "604198497",
    did: str = "910104219",
    exten: str = "20",
    target: str = "21",
    ring_s: float = 1.0,
    target_ring_s: float = 2.0,
) -> Script:
    return calls.inbound_direct(
        pbx,
        key,
        caller=caller,
        did=did,
        exten=exten,
        ring_s=ring_s,
        after_answer=transfers.attended_cancelled(target, ring_s=target_ring_s),
    )


def blind_transfer(
    pbx: Pbx,
    key: str,
    *,
    caller: str = "777888999",
    did: str = "910104219",
    exten: str = "20",
    target: str = "22",
    ring_s: float = 1.0,
    target_ring_s: float = 2.0,
    talk_s: float = 3.5,
) -> Script:
    return calls.inbound_direct(
        pbx,
        key,
        caller=caller,
        did=did,
        exten=exten,
        ring_s=ring_s,
        after_answer=transfers.blind(target, ring_s=target_ring_s, talk_s=talk_s),
    )


def agent_session(pbx: Pbx, key: str, *, exten: str = "163", queue: str = "NOC", reason: str = "Oběd") -> Script:
    return queues.agent_session(pbx, exten=exten, queue=queue, reason=reason)


def custom_field(
    pbx: Pbx,
    key: str,
    *,
    caller: str = "777888999",
    did: str = "222333446",
    queue: str = "NOC",
    digits: str = "987654",
    answered_by: str = "20",
    ring_s: float = 2.0,
    talk_s: float = 3.5,
    hangup_by: str = "agent",
) -> Script:
    return queues.queue_call(
        pbx,
        key,
        caller=caller,
        did=did,
        queue=queue,
        digits=digits,
        talk_s=talk_s,
        hangup_by=hangup_by,
        decide=answers(pbx.directory, {answered_by: ring_s}),
    )


def rrmemory_ringnoanswer(
    pbx: Pbx,
    key: str,
    *,
    caller: str = "604198497",
    did: str = "222333445",
    queue: str = "SALES",
    answered_by: str = "22",
    ring_s: float = 1.0,
    talk_s: float = 3.5,
    hangup_by: str = "agent",
) -> Script:
    return queues.queue_call(
        pbx,
        key,
        caller=caller,
        did=did,
        queue=queue,
        talk_s=talk_s,
        hangup_by=hangup_by,
        decide=answers(pbx.directory, {answered_by: ring_s}),
    )


def hold_unhold(
    pbx: Pbx,
    key: str,
    *,
    caller: str = "604198497",
    did: str = "910104229",
    exten: str = "20",
    ring_s: float = 1.0,
    before_s: float = 3.0,
    hold_s: float = 5.6,
    after_s: float = 3.0,
) -> Script:
    """The answering extension holds the caller with ``*7`` and takes it back with ``1``."""
    return calls.inbound_direct(
        pbx,
        key,
        caller=caller,
        did=did,
        exten=exten,
        ring_s=ring_s,
        after_answer=transfers.hold(before_s=before_s, hold_s=hold_s, after_s=after_s),
    )


def queue_wrapup(
    pbx: Pbx,
    key: str,
    *,
    first: str = "777888999",
    second: str = "604198497",
    did: str = "222333450",
    queue: str = "HELPDESK",
    agent: str = "163",
    wrapup_s: int = 5,
    second_after_s: float = 6.5,
) -> Script:
    """Two callers into a queue of one static agent with a wrap-up time: the second waits
    the wrap-up out. The queue is the PBX's own (queues.conf), not the directory's."""
    interface = pbx.extension_device(agent)
    ext = pbx.directory.extension(agent)
    name = ext.login if ext is not None and ext.login else agent
    pbx.members[(queue, interface.lower())] = Member(
        queue, interface, name, login_time=int(pbx.now), status=0, wrapup=wrapup_s
    )
    one = queues.queue_call(
        pbx,
        key,
        caller=first,
        did=did,
        queue=queue,
        talk_s=3.5,
        hangup_by="agent",
        decide=answers(pbx.directory, {agent: 2.0}),
    )
    two = queues.queue_call(
        pbx,
        pbx.call_key(),
        caller=second,
        did=did,
        queue=queue,
        talk_s=2.5,
        hangup_by="agent",
        decide=answers(pbx.directory, {agent: 1.0}),
    )
    return together(pbx, [(0.0, one), (second_after_s, two)])


def queue_timeout(
    pbx: Pbx,
    key: str,
    *,
    caller: str = "777888999",
    did: str = "222333447",
    queue: str = "NOC",
    timeout_s: float = 10.0,
    mailbox_s: float = 3.5,
) -> Script:
    """Nobody answers; the caller leaves the queue at its timeout, still connected, for a mailbox."""
    return queues.queue_call(
        pbx,
        key,
        caller=caller,
        did=did,
        queue=queue,
        decide=answers(pbx.directory, {}),
        queue_timeout_s=timeout_s,
        mailbox_s=mailbox_s,
    )


def together(pbx: Pbx, parts: list[tuple[float, Script]]) -> Script:
    """Several scripts as one, each started after its delay (two calls of one scenario)."""
    heap = [(pbx.now + delay, i, part) for i, (delay, part) in enumerate(parts)]
    heapq.heapify(heap)
    while heap:
        due, i, part = heap[0]
        if due > pbx.now:
            yield due - pbx.now
            continue
        heapq.heappop(heap)
        try:
            wait = next(part)
        except StopIteration:
            continue
        heapq.heappush(heap, (pbx.now + max(0.0, wait), i, part))


_SCRIPTS: dict[str, Callable[..., Script]] = {
    f.__name__: f
    for f in (
        inbound_ringall_answered,
        inbound_ringall_missed,
        inbound_direct_answered,
        inbound_direct_busy,
        outbound_answered,
        outbound_noanswer,
        internal_call,
        click2dial,
        attended_transfer_cancelled,
        blind_transfer,
        agent_session,
        custom_field,
        rrmemory_ringnoanswer,
        caller_abandons_while_ringing_direct,
        hold_unhold,
        queue_wrapup,
        queue_timeout,
    )
}
NAMES = tuple(sorted(_SCRIPTS))


def script(name: str, pbx: Pbx, key: str, **params: Any) -> Script:
    try:
        fn = _SCRIPTS[name]
    except KeyError:
        raise KeyError(f"no scenario {name!r}; known: {', '.join(NAMES)}") from None
    return fn(pbx, key, **params)


def scenario(
    name: str,
    directory: Directory,
    start_ts: float,
    *,
    seed: int = 0,
    first_counter: int = 0,
    noise: bool = True,
    **params: Any,
) -> list[tuple[float, AmiMessage]]:
    """Play one scenario on a fresh PBX: its AMI events as (seconds from ``start_ts``, message)."""
    rng = random.Random(seed)  # noqa: S311 (a simulation, not a secret)
    pbx = Pbx(directory, start_ts, rng, first_counter=first_counter, noise=noise)
    engine = Engine(pbx)
    key = pbx.call_key()
    engine.spawn(script(name, pbx, key, **params), key=key)
    return [(t - start_ts, msg) for t, msg in engine.run()]
