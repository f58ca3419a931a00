"""Scripts of queued calls and of agents: ring-all and rrmemory queues, the IVR, logins and pauses.

A queued call (``Queue(<name>,rt,,,120)`` in the lab) joins the queue, offers itself
to members (all available ones for ``ringall``, one at a time after the last one
tried for ``rrmemory``), and ends when a member answers and the talk is over, or
when the caller gives up (``QueueCallerAbandon``). Which member answers, and when,
is decided per offer by a :data:`Decide` callable, so the same script serves the
recorded scenarios (fixed answers) and the load model (random agents).

Order of events on an answer, as Asterisk 23 sends it: the agent's ``Newstate Up``
and ``DialEnd ANSWER`` first, ``DialEnd CANCEL`` for each losing leg (twice, the
repetition interleaved with their ``Hangup`` cause 26), then ``QueueCallerLeave``,
``AgentConnect`` and the bridge.
"""

from __future__ import annotations

from collections.abc import Callable

from callhook.sources.simulator.calls import RING_STATE_DELAY, AfterAnswer, Dialled, trunk_in, write_cdrs
from callhook.sources.simulator.engine import Script
from callhook.sources.simulator.pbx import Pbx
from callhook.sources.simulator.shapes import Channel, Member, channel_block

__all__ = ["Decide", "agent_session", "queue_add", "queue_call", "queue_pause", "queue_remove"]

# per offer: seconds until this member answers, or None (it rings out)
Decide = Callable[[Member], float | None]


def _candidates(pbx: Pbx, queue: str, strategy: str, ringing: set[str]) -> list[Member]:
    members = [
        m for m in pbx.members.values() if m.queue == queue and pbx.available(m) and m.interface.lower() not in ringing
    ]
    if strategy != "rrmemory" or not members:
        return members
    order = [m for m in pbx.members.values() if m.queue == queue]
    last = pbx.rr_last.get(queue, "")
    idx = next((i for i, m in enumerate(order) if m.interface == last), -1)
    for m in order[idx + 1 :] + order[: idx + 1]:
        if m in members:
            return [m]
    return []


def queue_call(
    pbx: Pbx,
    key: str,
    *,
    caller: str,
    did: str,
    queue: str,
    decide: Decide,
    patience_s: float = 120.0,
    talk_s: float = 3.5,
    hangup_by: str = "caller",
    digits: str = "",
    member_timeout_s: float | None = None,
    retry_s: float = 1.0,
    after_answer: AfterAnswer | None = None,
    queue_timeout_s: float | None = None,
    mailbox_s: float = 3.5,
) -> Script:
    """PSTN -> DID -> (IVR reading ``digits`` into ``__ipbx_custom_field``) -> queue ``queue``.

    ``queue_timeout_s``: ``Queue(<name>,rt,,,<timeout>)``: the caller leaves the queue then,
    still connected, and the dial plan answers and plays ``mailbox_s`` of a mailbox."""
    q = pbx.directory.queue(queue)
    strategy = q.strategy if q is not None else "ringall"
    src = trunk_in(pbx, key, caller, did)
    if digits:
        pbx.app(src, "ivr-customer", "s", 1, "Answer", "")
        pbx.set_state(src, "Up")
        yield 1.1
        for digit in digits:
            pbx.dtmf(src, digit, begin=True)
            yield 0.1
            pbx.dtmf(src, digit, begin=False, duration_ms=100)
            yield 0.25
        pbx.varset(src, "CUSTNO", digits)
        pbx.varset(src, "__ipbx_custom_field", digits)
    data = f"{queue},rt,,,{int(queue_timeout_s) if queue_timeout_s else 120}"
    pbx.app(src, "queues", queue, 2, "Queue", data)
    pbx.varset(src, "QUEUEWAIT", "")
    joined = pbx.now
    position = pbx.queue_join(src, queue)
    cdrs: list[Dialled] = []
    deadline = joined + queue_timeout_s if queue_timeout_s else float("inf")
    while True:
        left = joined + patience_s - pbx.now
        offered = _candidates(pbx, queue, strategy, set())
        if not offered:
            if pbx.now >= deadline:
                yield from _timeout(pbx, src, queue, position, joined, [], cdrs, mailbox_s)
                return
            if left <= 0:
                yield from _abandon(pbx, src, queue, position, joined, [], cdrs)
                return
            # Asterisk offers a member again the moment its wrap-up ends
            wrapped = [m.wrapup_until - pbx.now for m in pbx.members.values() if m.queue == queue]
            soon = min((w for w in wrapped if w > 0), default=retry_s)
            yield min(retry_s, left, soon, deadline - pbx.now)
            continue
        legs = [_offer(pbx, src, m, queue) for m in offered]
        cdrs += [Dialled(src, leg, pbx.now, "Queue", data, queue, "queues") for leg in legs]
        yield RING_STATE_DELAY
        for leg in legs:
            pbx.dial("DialState", src, leg, ("DialStatus", "RINGING"))
        timeout = member_timeout_s or (15.0 if strategy == "ringall" else 3.0)
        delays = [decide(m) for m in offered]
        winner = min(
            (i for i, d in enumerate(delays) if d is not None and d < timeout),
            key=lambda i: delays[i] or 0.0,
            default=None,
        )
        wait = timeout if winner is None else (delays[winner] or 0.0)
        left = joined + patience_s - pbx.now
        if deadline - pbx.now < min(wait, left):
            yield max(deadline - pbx.now, 0.0)
            ringing = list(zip(offered, legs, strict=True))
            yield from _timeout(pbx, src, queue, position, joined, ringing, cdrs, mailbox_s)
            return
        if left < wait:
            yield max(left, 0.0)
            yield from _abandon(pbx, src, queue, position, joined, list(zip(offered, legs, strict=True)), cdrs)
            return
        yield wait
        if winner is None:
            for m, leg in zip(offered, legs, strict=True):
                pbx.agent_event("AgentRingNoAnswer", src, leg, m, ("RingTime", str(int(timeout * 1000))))
                pbx.dial("DialEnd", src, leg, ("DialStatus", "NOANSWER"))
                pbx.dial("DialEnd", src, leg, ("DialStatus", "CANCEL"))
                pbx.hangup(leg, 0)
                pbx.rr_last[queue] = m.interface
            yield retry_s
            continue
        yield from _connect(pbx, src, queue, offered, legs, winner, joined, cdrs, talk_s, hangup_by, after_answer)
        return


def _offer(pbx: Pbx, src: Channel, m: Member, queue: str) -> Channel:
    pbx.defer_status = True
    leg = pbx.new_channel(m.interface, src.call, linkedid=src.linkedid)
    pbx.inherit(src, leg)
    leg.cl_num, leg.cl_name, leg.context, leg.exten = src.cid_num, src.cid_name, "from-internal", queue
    pbx.set_state(leg, "Ringing")
    pbx.agent_event("AgentCalled", src, leg, m)
    pbx.flush_status()
    pbx.dial("DialBegin", src, leg, ("DialString", m.interface))
    return leg


def _connect(
    pbx: Pbx,
    src: Channel,
    queue: str,
    offered: list[Member],
    legs: list[Channel],
    winner: int,
    joined: float,
    cdrs: list[Dialled],
    talk_s: float,
    hangup_by: str,
    after_answer: AfterAnswer | None,
) -> Script:
    m, agent = offered[winner], legs[winner]
    losers = [leg for i, leg in enumerate(legs) if i != winner]
    pbx.set_state(agent, "Up")
    pbx.dial("DialEnd", src, agent, ("DialStatus", "ANSWER"))
    for leg in losers:
        pbx.dial("DialEnd", src, leg, ("DialStatus", "CANCEL"))
    for leg in losers:
        pbx.dial("DialEnd", src, leg, ("DialStatus", "CANCEL"))
        pbx.hangup(leg, 26)
    held = pbx.now - joined
    pbx.queue_leave(src, queue)
    pbx.agent_event(
        "AgentConnect", src, agent, m, ("HoldTime", str(int(held))), ("RingTime", str(int(pbx.now - agent.created)))
    )
    m.calls_taken += 1
    m.last_call = int(pbx.now)
    pbx.rr_last[queue] = m.interface
    if src.state != "Up":
        pbx.set_state(src, "Up")
    b = pbx.bridge_create()
    pbx.bridge_enter(b, agent)
    pbx.bridge_enter(b, src)
    bridged = pbx.now
    if after_answer is not None:
        yield 0.0
        pbx.agent_event(
            "AgentComplete", src, agent, m, ("HoldTime", str(int(held))), ("TalkTime", "0"), ("Reason", "transfer")
        )
        yield from after_answer(pbx, b, src, agent)
        return
    yield talk_s
    first = src if hangup_by == "caller" else agent
    pbx.agent_event(
        "AgentComplete",
        src,
        agent,
        m,
        ("HoldTime", str(int(held))),
        ("TalkTime", str(int(pbx.now - bridged))),
        ("Reason", "caller" if first is src else "agent"),
    )
    # either way the agent's Hangup comes first (the queue app owns the caller's channel)
    pbx.request_hangup(first, 16)
    if first is src:
        pbx.bridge_leave(b, src)
        write_cdrs(pbx, cdrs, "ANSWERED")
        pbx.unbridge(b, [agent])
        pbx.hangup(agent, 16)
        m.wrapup_until = pbx.now + m.wrapup
    else:
        write_cdrs(pbx, cdrs, "ANSWERED")
        pbx.bridge_leave(b, agent)
        pbx.hangup(agent, 16, request=False)
        m.wrapup_until = pbx.now + m.wrapup
        pbx.unbridge(b, [src])
    pbx.hangup(src, 16, request=first is not src)


def _abandon(
    pbx: Pbx,
    src: Channel,
    queue: str,
    position: int,
    joined: float,
    ringing: list[tuple[Member, Channel]],
    cdrs: list[Dialled],
) -> Script:
    """The caller hangs up while waiting: legs withdrawn (cause 0), QueueCallerAbandon, Leave, Hangup."""
    pbx.request_hangup(src, 16)  # Asterisk reports the caller's hang-up request before it cancels the legs
    for _, leg in ringing:
        pbx.dial("DialEnd", src, leg, ("DialStatus", "CANCEL"))
    for _, leg in ringing:
        pbx.dial("DialEnd", src, leg, ("DialStatus", "CANCEL"))
        pbx.hangup(leg, 0)
    yield 0.004
    pbx.varset(src, "ABANDONED", "TRUE")
    write_cdrs(pbx, cdrs, "NO ANSWER")
    pbx.queue_abandon(src, queue, position, pbx.now - joined)
    pbx.queue_leave(src, queue)
    pbx.hangup(src, 16)


def _timeout(
    pbx: Pbx,
    src: Channel,
    queue: str,
    position: int,
    joined: float,
    ringing: list[tuple[Member, Channel]],
    cdrs: list[Dialled],
    mailbox_s: float,
) -> Script:
    """The queue's timeout: the ringing members ring out, the caller leaves the queue still
    connected (reported as QueueCallerAbandon, then Leave, QUEUESTATUS=TIMEOUT), and the dial
    plan answers it for a mailbox and hangs up."""
    for m, leg in ringing:
        pbx.agent_event("AgentRingNoAnswer", src, leg, m, ("RingTime", str(int((pbx.now - leg.created) * 1000))))
    for _, leg in ringing:
        pbx.dial("DialEnd", src, leg, ("DialStatus", "NOANSWER"))
    for _, leg in ringing:
        pbx.dial("DialEnd", src, leg, ("DialStatus", "CANCEL"))
        pbx.hangup(leg, 0)
    pbx.varset(src, "ABANDONED", "TRUE")
    pbx.queue_abandon(src, queue, position, pbx.now - joined)
    yield 0.003
    pbx.queue_leave(src, queue)
    pbx.varset(src, "QUEUESTATUS", "TIMEOUT")
    write_cdrs(pbx, cdrs, "NO ANSWER")
    pbx.set_state(src, "Up")
    answered = pbx.now
    yield mailbox_s
    pbx.emit("SoftHangupRequest", channel_block(src), [("Cause", "16")])
    pbx.cdr(
        src,
        None,
        destination=queue,
        dest_context="queues",
        app="Hangup",
        data="16",
        start=src.created,
        answer=answered,
        end=pbx.now,
        disposition="ANSWERED",
    )
    pbx.hangup(src, 16)


# ---------------------------------------------------------------------------- agents
def queue_add(pbx: Pbx, queue: str, interface: str, name: str = "", paused: bool = False, reason: str = "") -> bool:
    """A dynamic member logs in; False (and no event) when it is already there."""
    if pbx.member(queue, interface) is not None:
        return False
    ext = pbx.directory.extension_of_channel(interface + "-0")
    m = Member(
        queue,
        interface,
        name or (ext.login if ext is not None and ext.login else interface),
        membership="dynamic",
        paused=paused,
        reason=reason if paused else "",
        login_time=int(pbx.now),
        status=0 if pbx.device_state(interface) == "idle" else 2,
    )
    pbx.members[(queue, interface.lower())] = m
    if pbx.noise:
        pbx.emit(
            "DeviceStateChange",
            [("Device", f"Queue:{queue}_pause_{interface}"), ("State", "INUSE" if paused else "NOT_INUSE")],
        )
    pbx.member_event("QueueMemberAdded", m)
    return True


def queue_remove(pbx: Pbx, queue: str, interface: str) -> bool:
    m = pbx.members.pop((queue, interface.lower()), None)
    if m is None:
        return False
    pbx.member_event("QueueMemberRemoved", m)
    return True


def queue_pause(pbx: Pbx, interface: str, paused: bool, queue: str = "", reason: str = "") -> bool:
    """Pause or unpause a member in ``queue`` (every queue it is in when empty); False if it is in none."""
    found = [
        m for m in pbx.members.values() if m.interface.lower() == interface.lower() and (not queue or m.queue == queue)
    ]
    for m in found:
        m.paused, m.reason = paused, reason if paused else ""
        if paused:
            m.last_pause = int(pbx.now)
        if pbx.noise:
            pbx.emit(
                "DeviceStateChange",
                [("Device", f"Queue:{m.queue}_pause_{m.interface}"), ("State", "INUSE" if paused else "NOT_INUSE")],
            )
        pbx.member_event("QueueMemberPause", m)
    return bool(found)


def agent_session(
    pbx: Pbx,
    *,
    exten: str,
    queue: str,
    pause_after_s: float = 3.0,
    pause_s: float = 2.0,
    logout_after_s: float = 1.5,
    reason: str = "Oběd",
) -> Script:
    """An agent logs in (QueueAdd), a repeated login is refused, pauses with ``reason``, unpauses, logs out."""
    interface = pbx.extension_device(exten)
    queue_add(pbx, queue, interface)
    yield 0.5
    queue_add(pbx, queue, interface)  # refused: no event
    yield pause_after_s
    queue_pause(pbx, interface, True, queue, reason)
    yield pause_s
    queue_pause(pbx, interface, False, queue)
    yield logout_after_s
    queue_remove(pbx, queue, interface)
