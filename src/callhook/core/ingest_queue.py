"""Call legs from Webitel's queue hooks (seed 002), for the ingest call model.

A Webitel hook tells a queue's story (``Joined``, ``Offering``, ``Bridged``,
``Missed``, ``Leaving``, ``Processing``) and nothing else, so a VOIPEX or PBX2IS
subscriber would hear nothing of the call. :func:`queue_legs` adds the call events
the same facts make on AMI, in AMI's order:

============  ====================================================================
Joined        (``call.new`` before it, as for any first event) -- the call is queued
Offering      after it: ``call.ringing`` of the agent's leg
Bridged       before it: ``call.answered`` of the agent's leg
Missed        after it: ``call.hangup`` of the agent's leg, ``No answer``
Leaving       the caller left the queue; ``abandoned``/``cancel``: the caller is
              gone (the call ends after the wait); ``success``: the call goes on,
              unless ``call_cause`` names the call's hang-up cause: then it is over
Processing    the agent's wrap-up began, so its leg ended: ``call.hangup``,
              ``Normal Clearing`` (the call ends after the wait)
============  ====================================================================

The agent's leg is keyed by ``agent_extension`` (its number); a hook without one
adds no leg event. The caller's number is ``destination``; Webitel carries no
called number and no direction: an incoming call (``caller_type`` external).
"""

from __future__ import annotations

from dataclasses import replace

from callhook.core.events import AgentInfo, CallParty, Direction, Event, EventType, Hangup, Leg
from callhook.core.ingest_party import CallState

__all__ = ["queue_legs"]

T = EventType


def queue_legs(call: CallState, event: Event) -> tuple[list[Event], list[Event]]:
    """(leg events to emit before ``event``, after it); their ids are for the caller to replace."""
    if call.party.direction is None:
        call.party = replace(call.party, direction=Direction.INCOMING, caller_type=call.party.caller_type or "external")
    call.queue = event.queue or call.queue
    agent = event.agent or AgentInfo()
    t = event.type
    if t is T.QUEUE_JOINED:
        call.in_queue = True
        return [], []
    if t is T.QUEUE_LEFT:
        call.in_queue = False
        qc = event.queue_call
        if qc is None or qc.cc_result != "success":
            call.caller_gone = True
        if qc is not None and qc.call_cause:
            call.hung_up_cause = qc.call_cause
        return [], []
    if not agent.number:
        return [], []
    leg = Leg(
        number=agent.number, name=agent.name, channel=event.queue_call.agent_channel_id if event.queue_call else ""
    )
    base = replace(
        event, type=T.CALL_RINGING, party=CallParty(), leg=leg, queue=call.queue, queue_call=None, agent=None
    )
    if t is T.QUEUE_OFFERED:
        return [], [base]
    if t is T.QUEUE_BRIDGED:
        return [replace(base, type=T.CALL_ANSWERED)], []
    if t is T.QUEUE_MISSED:
        return [], [replace(base, type=T.CALL_HANGUP, hangup=Hangup(reason="No answer", cause=19))]
    if t is T.AGENT_WRAPUP:
        h = Hangup(reason="Normal Clearing", cause=16, answered=True)
        return [], [replace(base, type=T.CALL_HANGUP, hangup=h)]
    return [], []
