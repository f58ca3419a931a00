"""Queue callers and agents' offers: Webitel's Joined / Offering / Missed / Bridged / Leaving.

An offer withdrawn because another agent answered is not a Missed (only Asterisk's
AgentRingNoAnswer is); Leaving is told when the caller's channel ends, with the outcome
(``cc_result``) and the call-centre durations.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from callhook.core.ami.message import AmiMessage
from callhook.core.events import EventType, QueueCall
from callhook.core.tracker import reasons
from callhook.core.tracker.base import TrackerBase
from callhook.core.tracker.state import Call, Chan, QueueVisit

__all__ = ["QueueEvents"]


class QueueEvents(TrackerBase):
    def _queue_call(
        self, call: Call, visit: QueueVisit, ts: datetime, agent: Chan | None = None, **kw: Any
    ) -> QueueCall:
        bill = (ts - visit.bridged_at).total_seconds() if visit.bridged_at else 0.0
        return QueueCall(
            member_channel_id=visit.member_uid,
            agent_channel_id=agent.uid if agent else "",
            attempt_seq=visit.offers,
            position=visit.position,
            wait=((visit.bridged_at or visit.left or ts) - visit.joined).total_seconds(),
            call_duration=(ts - call.start).total_seconds(),
            call_bill_sec=bill,
            call_voice_sec=bill,
            **kw,
        )

    def _on_queuejoin(self, msg: AmiMessage, ts: datetime) -> None:
        ch = self._chan(msg, ts)
        if ch is None:
            return
        call = self.calls[ch.linkedid]
        try:
            pos = int(msg.get("Position") or 0)
        except ValueError:
            pos = 0
        call.visit = QueueVisit(queue=msg.get("Queue"), member_uid=ch.uid, joined=ts, position=pos)
        self._emit(
            call,
            EventType.QUEUE_JOINED,
            ts,
            queue=call.visit.queue,
            queue_call=self._queue_call(call, call.visit, ts),
            variables=dict(call.variables),
        )

    def _visit(self, msg: AmiMessage) -> tuple[Call, QueueVisit] | None:
        ch = self.chans.get(msg.get("Uniqueid"))
        call = self.calls.get(ch.linkedid) if ch else None
        if call is None or call.visit is None:
            return None
        return call, call.visit

    def _on_agentcalled(self, msg: AmiMessage, ts: datetime) -> None:
        found = self._visit(msg)
        agent = self._chan(msg, ts, "Dest")
        if found is None or agent is None:
            return
        call, visit = found
        visit.offers += 1
        if agent.ext is None:
            agent.ext = self.directory.extension_of_channel(msg.get("Interface"))
        self._emit(
            call,
            EventType.QUEUE_OFFERED,
            ts,
            queue=visit.queue,
            leg=self._leg(agent),
            queue_call=self._queue_call(call, visit, ts, agent),
            variables=dict(call.variables),
        )

    def _on_agentringnoanswer(self, msg: AmiMessage, ts: datetime) -> None:
        found = self._visit(msg)
        agent = self._chan(msg, ts, "Dest")
        if found is None or agent is None:
            return
        call, visit = found
        self._emit(
            call,
            EventType.QUEUE_MISSED,
            ts,
            queue=visit.queue,
            leg=self._leg(agent),
            queue_call=self._queue_call(call, visit, ts, agent),
            variables=dict(call.variables),
        )

    def _on_agentconnect(self, msg: AmiMessage, ts: datetime) -> None:
        found = self._visit(msg)
        agent = self._chan(msg, ts, "Dest")
        if found is None or agent is None:
            return
        call, visit = found
        visit.bridged_uid, visit.bridged_at, visit.bridged_leg = agent.uid, ts, self._leg(agent)
        self._emit(
            call,
            EventType.QUEUE_BRIDGED,
            ts,
            queue=visit.queue,
            leg=self._leg(agent),
            queue_call=self._queue_call(call, visit, ts, agent),
            variables=dict(call.variables),
        )

    def _on_queueabandon(self, msg: AmiMessage, ts: datetime) -> None:
        found = self._visit(msg)
        if found is not None:
            found[1].abandoned = True

    def _on_queueleave(self, msg: AmiMessage, ts: datetime) -> None:
        found = self._visit(msg)
        if found is not None:
            found[1].left = found[1].left or ts

    def _queue_left(self, call: Call, visit: QueueVisit, ts: datetime, cause: int | None) -> None:
        visit.reported_left = True
        visit.left = visit.left or ts
        result = "success" if visit.bridged_uid else ("abandoned" if visit.abandoned else "cancel")
        qc = self._queue_call(
            call,
            visit,
            ts,
            None,
            cc_result=result,
            call_cause=reasons.reason_for_cause(cause).upper().replace(" ", "_"),
        )
        if visit.bridged_leg is not None:
            qc = replace(qc, agent_channel_id=visit.bridged_leg.leg_id)
        self._emit(
            call,
            EventType.QUEUE_LEFT,
            ts,
            queue=visit.queue,
            leg=visit.bridged_leg,
            queue_call=qc,
            variables=dict(call.variables),
        )

    # ------------------------------------------------------------ utilities
