"""Queue callers and agents' offers: Webitel's Joined / Offering / Missed / Bridged /
Leaving / Processing, driven by the visit machine of :mod:`.machine`.

An offer withdrawn because another agent answered is not a Missed (only Asterisk's
AgentRingNoAnswer is). Leaving is told when the caller leaves the queue: at the
queue timeout or abandon (``QueueCallerLeave``; Asterisk reports a timeout as
``QueueCallerAbandon`` too, so the caller's own hang-up request tells an abandon from
a timeout), or, for a caller an agent answered, when their conversation ends
(``AgentComplete``; the caller's hangup when that never came). Processing
(``agent.wrapup``) is told when the answering agent's leg ends and the agent has a
wrap-up time (``Wrapuptime`` of its queue member, as Asterisk reports it).

Call-centre times (seed 002), seconds at the event's moment:
``call_duration`` from the call's start; ``call_bill_sec`` from the caller's answer
(its channel Up); ``call_voice_sec`` from the agent's connection (AgentConnect).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from callhook.core.ami.message import AmiMessage
from callhook.core.events import AgentInfo, EventType, QueueCall
from callhook.core.tracker import reasons
from callhook.core.tracker.ledger import Ledger
from callhook.core.tracker.machine import Effect, VisitInput
from callhook.core.tracker.state import Call, Chan, QueueVisit

__all__ = ["QueueDesk", "cause_name"]


def cause_name(cause: int | None) -> str:
    """Webitel's call_cause: the cause text upper-cased (``NORMAL_CLEARING``); "" unknown."""
    if cause is None:
        return ""
    return reasons.reason_for_cause(cause).upper().replace(" ", "_").replace(",", "")


def _seconds(since: datetime | None, ts: datetime) -> float:
    return max(0.0, (ts - since).total_seconds()) if since is not None else 0.0


class QueueDesk:
    def __init__(self, ledger: Ledger) -> None:
        self.led = ledger

    # ---------------------------------------------------------------- facts
    def _queue_call(self, call: Call, visit: QueueVisit, ts: datetime, agent_uid: str = "", **kw: Any) -> QueueCall:
        member = self.led.chans.get(visit.member_uid) or call.channels.get(visit.member_uid)
        answered = member.up_at if member is not None else None
        return QueueCall(
            member_channel_id=visit.member_uid,
            agent_channel_id=agent_uid,
            attempt_seq=visit.attempts.get(agent_uid, visit.offers),
            position=visit.position,
            wait=((visit.bridged_at or visit.left or ts) - visit.joined).total_seconds(),
            call_duration=_seconds(call.start, ts),
            call_bill_sec=_seconds(answered if answered is not None and answered <= ts else None, ts),
            call_voice_sec=_seconds(visit.bridged_at, ts),
            use_processing=self.led.agents.queue_wrapup(visit.queue) > 0,
            amd_result=call.amd_result,
            **kw,
        )

    def _emit(self, call: Call, visit: QueueVisit, etype: EventType, ts: datetime, agent: Chan | None) -> None:
        self.led.emit(
            call,
            etype,
            ts,
            queue=visit.queue,
            leg=self.led.leg(agent) if agent is not None else None,
            queue_call=self._queue_call(call, visit, ts, agent.uid if agent is not None else ""),
            variables=dict(call.variables),
        )

    def _visit(self, msg: AmiMessage) -> tuple[Call, QueueVisit] | None:
        ch = self.led.chans.get(msg.get("Uniqueid"))
        call = self.led.calls.get(ch.linkedid) if ch else None
        if call is None or call.visit is None:
            return None
        return call, call.visit

    # --------------------------------------------------------------- events
    def on_join(self, msg: AmiMessage, ts: datetime) -> None:
        ch = self.led.chan(msg, ts)
        if ch is None:
            return
        call = self.led.calls[ch.linkedid]
        try:
            pos = int(msg.get("Position") or 0)
        except ValueError:
            pos = 0
        call.visit = QueueVisit(queue=msg.get("Queue"), member_uid=ch.uid, joined=ts, position=pos)
        self.led.emit(
            call,
            EventType.QUEUE_JOINED,
            ts,
            queue=call.visit.queue,
            queue_call=self._queue_call(call, call.visit, ts),
            variables=dict(call.variables),
        )

    def on_agent_called(self, msg: AmiMessage, ts: datetime) -> None:
        found, agent = self._visit(msg), self.led.chan(msg, ts, "Dest")
        if found is None or agent is None:
            return
        call, visit = found
        if agent.ext is None:
            agent.ext = self.led.directory.extension_of_channel(msg.get("Interface"))
        if self.led.advance_visit(visit, VisitInput.OFFER) is Effect.OFFERED:
            visit.offers += 1
            visit.attempts[agent.uid] = visit.offers
            visit.interfaces[agent.uid] = msg.get("Interface")
            self._emit(call, visit, EventType.QUEUE_OFFERED, ts, agent)

    def on_ring_no_answer(self, msg: AmiMessage, ts: datetime) -> None:
        found, agent = self._visit(msg), self.led.chan(msg, ts, "Dest")
        if found is None or agent is None:
            return
        call, visit = found
        if self.led.advance_visit(visit, VisitInput.RING_NO_ANSWER) is Effect.MISSED:
            self._emit(call, visit, EventType.QUEUE_MISSED, ts, agent)

    def on_connect(self, msg: AmiMessage, ts: datetime) -> None:
        found, agent = self._visit(msg), self.led.chan(msg, ts, "Dest")
        if found is None or agent is None:
            return
        call, visit = found
        if self.led.advance_visit(visit, VisitInput.CONNECT) is Effect.BRIDGED:
            visit.bridged_uid, visit.bridged_at, visit.bridged_leg = agent.uid, ts, self.led.leg(agent)
            visit.interfaces.setdefault(agent.uid, msg.get("Interface"))
            self._emit(call, visit, EventType.QUEUE_BRIDGED, ts, agent)

    def on_abandon(self, msg: AmiMessage, ts: datetime) -> None:
        found = self._visit(msg)
        if found is not None and self.led.advance_visit(found[1], VisitInput.ABANDON) is Effect.NOTE_ABANDON:
            found[1].abandoned = True

    def on_leave(self, msg: AmiMessage, ts: datetime) -> None:
        found = self._visit(msg)
        if found is None:
            return
        call, visit = found
        visit.left = visit.left or ts
        for_agent = any(c.answered for uid, c in call.channels.items() if uid in visit.attempts)
        inp = VisitInput.LEAVE_FOR_AGENT if for_agent else VisitInput.LEAVE
        if self.led.advance_visit(visit, inp) is Effect.LEFT:
            self._left(call, visit, ts)

    def on_complete(self, msg: AmiMessage, ts: datetime) -> None:
        found = self._visit(msg)
        if found is None:
            return
        call, visit = found
        inp = VisitInput.COMPLETE_TRANSFER if msg.get("Reason") == "transfer" else VisitInput.COMPLETE
        if self.led.advance_visit(visit, inp) is Effect.LEFT:
            self._left(call, visit, ts)

    def channel_ended(self, call: Call, ch: Chan, cause: int | None, ts: datetime) -> None:
        """A channel of ``call`` hung up: the caller's end or the answering agent's."""
        visit = call.visit
        if visit is None:
            return
        if visit.member_uid == ch.uid:
            effect = self.led.advance_visit(visit, VisitInput.MEMBER_HANGUP)
            if effect is Effect.LEFT:
                self._left(call, visit, ts, cause)
        elif visit.bridged_uid == ch.uid:
            effect = self.led.advance_visit(visit, VisitInput.AGENT_HANGUP)
            if effect is Effect.WRAPUP:
                self._wrapup(call, visit, ch, cause, ts)

    # -------------------------------------------------------------- outcomes
    def _left(self, call: Call, visit: QueueVisit, ts: datetime, cause: int | None = None) -> None:
        visit.left = visit.left or ts
        member = call.channels.get(visit.member_uid)
        if visit.bridged_uid:
            result = "success"
        elif member is None or member.hangup_requested:
            result = "abandoned"  # the caller hung up while waiting
        else:
            result = "cancel"  # the queue gave up on a caller still connected (timeout, no agents)
        agent_uid = visit.bridged_uid
        agent = self.led.chans.get(agent_uid) or call.channels.get(agent_uid)
        if cause is None and member is not None and member.hangup_requested:
            cause = member.hangup_cause
        if cause is None and result == "success":
            # the conversation ended (AgentComplete) before either Hangup: the cause the
            # ending side asked for, else a normal clearing
            cause = (agent.hangup_cause if agent is not None else None) or 16
        qc = self._queue_call(call, visit, ts, agent_uid, cc_result=result, call_cause=cause_name(cause))
        sip = agent.sip_code if agent is not None else (member.sip_code if member is not None else None)
        self.led.emit(
            call,
            EventType.QUEUE_LEFT,
            ts,
            queue=visit.queue,
            leg=visit.bridged_leg,
            queue_call=replace(qc, call_sip_code=sip),
            variables=dict(call.variables),
        )

    def _wrapup(self, call: Call, visit: QueueVisit, agent: Chan, cause: int | None, ts: datetime) -> None:
        interface = visit.interfaces.get(agent.uid, "")
        member = self.led.agents.member(visit.queue, interface)
        wrapup = self.led.agents.wrapup_of(visit.queue, interface)
        if wrapup <= 0:
            return  # no post-processing: the agent is available at once
        self.led.agents.start_wrapup(visit.queue, interface, ts, wrapup)
        qc = self._queue_call(call, visit, ts, agent.uid, call_cause=cause_name(cause), call_sip_code=agent.sip_code)
        leg = visit.bridged_leg
        info = (
            self.led.agents.agent_info(member, "phone")
            if member is not None
            else AgentInfo(
                login=leg.login if leg else "", number=leg.number if leg else "", name=leg.name if leg else ""
            )
        )
        self.led.emit(
            call,
            EventType.AGENT_WRAPUP,
            ts,
            queue=visit.queue,
            agent=info,
            leg=leg,
            queue_call=replace(qc, use_processing=True),
            variables=dict(call.variables),
        )
