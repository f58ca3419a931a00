"""Calls from ingested events: what a cloud PBX posts becomes the same call model as AMI.

Theory of operation. A vendor's webhook is one fact about one call (VOIPEX
``Ringing``, PBX2IS ``dial``, Webitel ``Offering``), decoded into a canonical
event by :mod:`callhook.core.dialects`. :class:`IngestCalls` keeps, per tenant and
call id, what the call's earlier events said, and turns each decoded event into
the *completed* events AMI would have produced:

* every call event gets the call's party (numbers, direction, ``caller_type``,
  ``record_name``) and ``seq`` 1, 2, 3 ... within the call; agent events a ``seq``
  within the agent; legs get name/login/email from the directory;
* derivable fields are derived (:mod:`.ingest_party`): ``caller_type`` from the
  direction (or the directory), the direction from ``caller_type``, whether an
  ended leg had answered, the Q.850 cause from the reason text;
* what a dialect does not say is added: a ``call.new`` before a call's first other
  event, call legs from Webitel's queue hooks (:mod:`.ingest_queue`), and the end
  of the call: ``call.ended`` (with its outcome: answered, missed, the last dial)
  and, for dialects that send no CDR, a ``call.record``.

The end. A VOIPEX ``CDR`` or a PBX2IS/native ``call.ended`` ends a call at once.
Otherwise, once no leg is left (every leg hung up, or the caller left) the call
ends ``end_wait`` later unless another event of the call comes first; a dialect
that states its own end (pbx2is, callhook) gets ``idle_end`` instead, and any call
untouched for ``idle_end`` is ended as it stands (and, beyond ``max_calls`` calls, the
least recently touched one, so memory stays bounded). Time is passed in: the adapter
calls :meth:`IngestCalls.expire` when :meth:`IngestCalls.due` has passed. An ended
call is remembered ``retain`` long, so a late event keeps counting its ``seq``
and is not taken for a new call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from callhook.core.directory import Directory
from callhook.core.events import Event, EventType
from callhook.core.ingest_party import CallState, LiveCall, complete_party, end_events, leg_event
from callhook.core.ingest_queue import queue_legs

__all__ = ["IngestCalls", "LiveCall"]

T = EventType
IdFactory = Callable[[datetime], str]
# sources that tell the end of a call themselves (pbx2is endcall, callhook call.ended)
SAYS_END = frozenset({"ingest:pbx2is", "ingest:callhook"})


class IngestCalls:
    """The ingest call model: decoded events in, completed events and live calls out."""

    def __init__(
        self,
        new_id: IdFactory,
        *,
        end_wait: timedelta = timedelta(seconds=10),
        idle_end: timedelta = timedelta(hours=4),
        retain: timedelta = timedelta(minutes=10),
        max_calls: int = 50_000,
    ) -> None:
        self._new_id = new_id
        self.end_wait = end_wait
        self.idle_end = idle_end
        self.retain = retain
        self.max_calls = max_calls
        self._calls: dict[tuple[str, str], CallState] = {}
        self._agent_seq: dict[tuple[str, str], int] = {}

    # ------------------------------------------------------------ reading
    def live_calls(self) -> list[LiveCall]:
        return [c.snapshot() for c in self._calls.values() if c.ended is None]

    def live_call(self, call_id: str, tenant: str | None = None) -> LiveCall | None:
        for c in self._calls.values():
            if c.call_id == call_id and c.ended is None and (tenant is None or c.tenant == tenant):
                return c.snapshot()
        return None

    def due(self) -> datetime | None:
        """The earliest time :meth:`expire` has something to do, or None."""
        times = [c.deadline(self.idle_end, self.retain) for c in self._calls.values()]
        return min(times, default=None)

    # ------------------------------------------------------------ feeding
    def feed(self, event: Event, now: datetime, directory: Directory) -> list[Event]:
        """The completed events for one decoded event (itself first among those of its kind)."""
        webitel = event.source == "ingest:webitel"
        if not event.call_id or (event.type.is_agent and not webitel):
            return [self._agent(event, directory)]
        if event.source == "ingest:callhook" and event.seq > 0:
            return [event]  # callhook's own event, complete as it was sent
        key = (event.tenant, event.call_id)
        call = self._calls.get(key)
        out: list[Event] = []
        if call is None:
            if len(self._calls) >= self.max_calls:
                out += self._evict(now)
            call = self._calls[key] = CallState(call_id=event.call_id, tenant=event.tenant, start=event.ts)
            call.source = event.source
        call.touched = now
        call.end_due = None
        call.party = complete_party(call, event.party, directory)
        if not call.announced and event.type is not T.CALL_NEW and call.ended is None:
            out.append(self._emit(call, event.ts, T.CALL_NEW, source=event.source))
        if event.type is T.CALL_NEW:
            call.announced = True
        if event.type is T.CALL_RECORD and call.ended is None:
            ts = event.record.end if event.record is not None else event.ts
            out += self._end(call, max(ts, call.start), event.source, cdr=False)
        if event.type is T.CALL_ENDED and call.ended is None:
            out.append(self._finish(call, event))
            if event.source not in ("ingest:voipex",):
                out.append(self._record(call, event.ts, event.source))
            return out
        if webitel and (event.type.is_queue or event.type is T.AGENT_WRAPUP):
            before, after = queue_legs(call, event)
            out += [self._derived(call, e, directory) for e in before]
            out.append(self._complete(call, event))
            out += [self._derived(call, e, directory) for e in after]
        else:
            out.append(self._complete(call, leg_event(call, event, directory)))
        if call.ended is None and call.over():
            wait = self.idle_end if call.source in SAYS_END else self.end_wait
            call.end_due = now + wait
        return out

    def expire(self, now: datetime) -> list[Event]:
        """The ends that are due at ``now``; ended calls past ``retain`` are forgotten."""
        out: list[Event] = []
        for key, call in list(self._calls.items()):
            if call.ended is not None:
                if now >= (call.ended_at or now) + self.retain:
                    del self._calls[key]
                continue
            if (call.end_due is not None and now >= call.end_due) or now >= (call.touched or now) + self.idle_end:
                ts = call.last_ts or call.start
                out += self._end(call, ts, call.source, cdr=call.source != "ingest:voipex")
                call.ended_at = now
        return out

    def _evict(self, now: datetime) -> list[Event]:
        """Room for one more call: the least recently touched one is forgotten (ended first)."""
        key, call = min(self._calls.items(), key=lambda kv: kv[1].touched or kv[1].start)
        out: list[Event] = []
        if call.ended is None:
            out = self._end(call, call.last_ts or call.start, call.source, cdr=call.source != "ingest:voipex")
        del self._calls[key]
        return out

    # ------------------------------------------------------------ building
    def _complete(self, call: CallState, event: Event) -> Event:
        call.seq += 1
        call.last_ts = max(call.last_ts or event.ts, event.ts)
        outcome = event.outcome
        if event.type is T.CALL_RECORD and outcome is None:
            outcome = call.outcome(event.record)
        return replace(event, seq=call.seq, party=call.party, outcome=outcome)

    def _derived(self, call: CallState, event: Event, directory: Directory) -> Event:
        return self._complete(call, leg_event(call, replace(event, id=self._new_id(event.ts)), directory))

    def _emit(self, call: CallState, ts: datetime, etype: EventType, *, source: str, **kw: object) -> Event:
        ev = Event(id=self._new_id(ts), type=etype, ts=ts, tenant=call.tenant, call_id=call.call_id, source=source)
        ev = replace(ev, **kw)  # type: ignore[arg-type]
        if etype is T.CALL_NEW:
            call.announced = True
        return self._complete(call, ev)

    def _end(self, call: CallState, ts: datetime, source: str, *, cdr: bool) -> list[Event]:
        out = [self._emit(call, ts, t, source=source, **kw) for t, kw in end_events(call)]
        out.append(self._finish(call, None, ts=ts, source=source))
        if cdr:
            out.append(self._record(call, ts, source))
        return out

    def _finish(self, call: CallState, given: Event | None, *, ts: datetime | None = None, source: str = "") -> Event:
        outcome = call.outcome(None, given.outcome if given is not None else None)
        call.ended = ts or (given.ts if given is not None else call.start)
        call.ended_at = call.touched
        if given is not None:
            return self._complete(call, replace(given, outcome=outcome))
        return self._emit(call, call.ended, T.CALL_ENDED, source=source, outcome=outcome)

    def _record(self, call: CallState, ts: datetime, source: str) -> Event:
        return self._emit(call, ts, T.CALL_RECORD, source=source, record=call.record(ts), outcome=call.outcome(None))

    def _agent(self, event: Event, directory: Directory) -> Event:
        a = event.agent
        if a is not None:
            known = directory.agent_info(agent_id=a.agent_id, number=a.number, login=a.login)
            if known is not None:
                a = replace(
                    a,
                    agent_id=a.agent_id or known.agent_id,
                    number=known.number if a.agent_id else (a.number or known.number),  # the id names it
                    name=a.name or known.name,
                    login=a.login or known.login,
                    email=a.email or known.email,
                    agent_type=known.agent_type if a.agent_type == "local" else a.agent_type,
                    extension_name=a.extension_name or known.extension_name,
                )
        key = (event.tenant, (a.login or a.number or a.agent_id) if a is not None else event.queue)
        seq = self._agent_seq.get(key, 0) + 1 if event.seq == 0 else event.seq
        if key not in self._agent_seq and len(self._agent_seq) >= 100_000:
            self._agent_seq.clear()  # bounded memory: a seq restarts rather than the map growing without end
        self._agent_seq[key] = seq
        return replace(event, seq=seq, agent=a)
