"""Transfers, as continuations of an answered call (:data:`~.calls.AfterAnswer`).

Blind (``##`` or AMI ``BlindTransfer``): a ``BlindTransfer`` event, the caller leaves
the bridge and the dial plan dials the target from the caller's channel; the
transferer hangs up.

Attended, then cancelled (``*2`` then ``*1``, or AMI ``Atxfer``/``CancelAtxfer``):
the transferer puts the caller on hold, a Local channel pair dials the target in a
consultation bridge; on cancel the transferer goes back to the first bridge
(``Unhold``) and the consultation legs are hung up. No event says "cancelled".
"""

from __future__ import annotations

from callhook.sources.simulator.calls import RING_STATE_DELAY, AfterAnswer, Dialled, answer, end_bridged, ring
from callhook.sources.simulator.engine import Script
from callhook.sources.simulator.pbx import Pbx
from callhook.sources.simulator.shapes import UNKNOWN, Bridge, Channel, bridge_block, channel_block

__all__ = ["attended_cancelled", "blind", "hold"]


def _keypad(pbx: Pbx, ch: Channel, digits: str) -> Script:
    for digit in digits:
        pbx.dtmf(ch, digit, begin=False)
        yield 0.08


def hold(*, before_s: float = 3.0, hold_s: float = 5.6, after_s: float = 3.0, music: str = "default") -> AfterAnswer:
    """The answering extension keys ``*7`` (a features.conf hold: the caller hears music) and
    ``1`` to take the caller back, then hangs up. Nobody leaves the bridge."""

    def run(pbx: Pbx, b: Bridge, caller: Channel, agent: Channel) -> Script:
        yield before_s
        for digit in "*7":
            pbx.dtmf(agent, digit, begin=True)
            yield 0.25
            pbx.dtmf(agent, digit, begin=False)
            yield 0.1
        pbx.hold(agent, True, music)
        pbx.music_on_hold(caller, True, music)
        yield hold_s
        pbx.dtmf(agent, "1", begin=True)
        pbx.hold(agent, False)
        pbx.music_on_hold(caller, False)
        pbx.dtmf(agent, "1", begin=False)
        yield after_s
        device = agent.device
        d = Dialled(caller, agent, caller.created, "Dial", f"{device},25,t", agent.exten, "ext-local")
        end_bridged(pbx, b, agent, caller, [d])

    return run


def blind(
    target: str, *, after_s: float = 2.0, ring_s: float = 2.0, talk_s: float = 3.5, hangup_by: str = "callee"
) -> AfterAnswer:
    def run(pbx: Pbx, b: Bridge, caller: Channel, agent: Channel) -> Script:
        yield after_s
        device = pbx.extension_device(target)
        pbx.hold(agent, False)
        pbx.emit(
            "BlindTransfer",
            [("Result", "Success")],
            channel_block(agent, "Transferer"),
            channel_block(caller, "Transferee"),
            bridge_block(b),
            [("IsExternal", "Yes"), ("Context", "from-internal"), ("Extension", target)],
        )
        caller.context, caller.exten, caller.priority = "from-internal", target, 1
        pbx.bridge_leave(b, caller)
        data = f"{device},25,t"
        pbx.app(caller, "from-internal", target, 1, "Dial", data)
        dst = ring(
            pbx,
            caller,
            device,
            key=caller.call,
            linkedid=caller.linkedid,
            cid=(target, UNKNOWN),
            cl=(caller.cid_num, caller.cid_name),
            context="from-internal",
            exten=target,
            dialstring=target,
            dialed=target,
        )
        d = Dialled(caller, dst, pbx.now, "Dial", data, target, "from-internal")
        yield RING_STATE_DELAY
        pbx.unbridge(b, [agent])
        pbx.hangup(agent, 16)
        yield RING_STATE_DELAY
        pbx.dial("DialState", caller, dst, ("DialStatus", "RINGING"))
        yield ring_s
        b2 = answer(pbx, d)
        yield talk_s
        first, second = (dst, caller) if hangup_by == "callee" else (caller, dst)
        end_bridged(pbx, b2, first, second, [d])

    return run


def attended_cancelled(
    target: str, *, after_s: float = 2.0, ring_s: float = 2.0, consult_s: float = 2.0, back_s: float = 2.0
) -> AfterAnswer:
    def run(pbx: Pbx, b: Bridge, caller: Channel, agent: Channel) -> Script:
        yield after_s
        device = pbx.extension_device(target)
        yield from _keypad(pbx, agent, "*2")
        pbx.hold(agent, True)
        yield from _keypad(pbx, agent, target)
        one, two = pbx.local_pair(target, "from-internal", caller.call, caller.linkedid)
        consult = pbx.bridge_create()
        pbx.set_callerid(two, agent.cid_num, UNKNOWN)
        pbx.local_bridge(one, two)
        pbx.bridge_enter(consult, one)
        data = f"{device},25,t"
        pbx.app(two, "from-internal", target, 1, "Dial", data)
        dst = ring(
            pbx,
            two,
            device,
            key=caller.call,
            linkedid=caller.linkedid,
            cid=(target, UNKNOWN),
            cl=(agent.cid_num, UNKNOWN),
            context="from-internal",
            exten=target,
            dialstring=target,
            dialed=target,
        )
        d = Dialled(two, dst, pbx.now, "Dial", data, target, "from-internal")
        pbx.bridge_leave(b, agent)
        pbx.bridge_enter(consult, agent)
        yield RING_STATE_DELAY
        one.cl_num, one.cl_name = agent.cid_num, UNKNOWN
        pbx.set_state(one, "Ringing")
        pbx.dial("DialState", two, dst, ("DialStatus", "RINGING"))
        pbx.dial("DialState", None, one, ("DialStatus", "RINGING"))
        yield ring_s
        inner = answer(pbx, d)  # the target and ;2 in their own bridge
        pbx.set_state(one, "Up")
        pbx.dial("DialEnd", None, one, ("DialStatus", "ANSWER"))
        yield consult_s
        yield from _keypad(pbx, agent, "*1")
        pbx.bridge_leave(consult, agent)
        pbx.bridge_enter(b, agent)
        pbx.hold(agent, False)
        pbx.unbridge(consult, [one])
        pbx.hangup(one, 16)
        pbx.unbridge(inner, [two, dst])
        pbx.cdr(
            two,
            dst,
            destination=target,
            dest_context="from-internal",
            app="Dial",
            data=data,
            start=d.start,
            answer=dst.answered_at,
            end=pbx.now,
            disposition="ANSWERED",
        )
        pbx.hangup(dst, 16)
        pbx.hangup(two, 16)
        yield back_s
        end_bridged(pbx, b, agent, caller, [])
        # (the original dial's CDR: Asterisk sends it after the transferer's hangup)

    return run
