"""The demo's terminal board: live calls, agents and the webhooks the receiver got.

Two faces over one set of counters. :meth:`Board.render` is what ``rich.live.Live``
redraws (four times a second): a header with the addresses and the admin token,
the live calls and the agents (read from the hub's tracker through the same helpers
the API routes use, so the board and ``/api/v1/calls/live`` never disagree), per
dialect counters and the last few webhook requests. In plain mode (``--no-ui``, or
stdout is not a terminal) every event and every webhook request is one log line
on stdout, plus a status line every few seconds.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from callhook.core.events import Event, EventType
from callhook.core.subscription import Dialect
from callhook.receiver import Received, Receiver, describe

__all__ = ["Board"]

SHOWN_CALLS = 12
SHOWN_REQUESTS = 8


class Board:
    def __init__(self, console: Console, receiver: Receiver, *, plain: bool) -> None:
        self.console = console
        self.receiver = receiver
        self.plain = plain
        self.hub: Any = None
        self.lines: list[tuple[str, str]] = []  # (label, value) for the header
        self.events: Counter[str] = Counter()
        self.recent_events: deque[Event] = deque(maxlen=SHOWN_REQUESTS)
        self.started = time.monotonic()

    # ------------------------------------------------------------ inputs
    def say(self, text: str) -> None:
        """A plain line (both modes: above the live view in rich mode)."""
        self.console.print(Text(text), soft_wrap=True)

    def on_event(self, ev: Event) -> None:
        self.events[ev.type.value] += 1
        self.recent_events.append(ev)
        if self.plain:
            self.say(f"event    {describe(ev)}")

    def on_request(self, rec: Received) -> None:
        if self.plain:
            what = describe(rec.event) if rec.event is not None else rec.error
            extra = f" signature {rec.signature}" if rec.signature else ""
            extra += f" auth {rec.auth}" if rec.auth else ""
            path, sep, query = rec.path.partition("?")
            path += f"?{query.partition('&')[0]}&..." if sep else ""
            self.say(f"webhook  {rec.dialect or '?':8} {rec.method:4} {path[:60]} -> {rec.status}{extra}  ({what})")

    @property
    def calls(self) -> int:
        return self.events[EventType.CALL_NEW.value]

    def status_line(self) -> str:
        calls, agents = self._calls(), self._agents()
        paused = sum(1 for a in agents if a.paused)
        return (
            f"status   {len(calls)} live calls, {len(agents)} queue members ({paused} paused), "
            f"{sum(self.events.values())} events, {self.receiver.total} webhooks received"
        )

    # ------------------------------------------------------------ the hub's live state
    def _calls(self) -> list[Any]:
        if self.hub is None:
            return []
        from callhook.api.calls import ingested_out, live_out

        calls = [live_out(c) for c in self.hub.tracker.snapshot().calls]
        return calls + [ingested_out(c) for c in self.hub.ingest.model.live_calls()]

    def _agents(self) -> list[Any]:
        if self.hub is None:
            return []
        from callhook.api.agents import agents_seen
        from callhook.api.auth import Principal

        return agents_seen(self.hub, Principal(None))

    # ------------------------------------------------------------ rich view
    def render(self) -> RenderableType:
        head = Table.grid(padding=(0, 2))
        head.add_column(style="bold")
        head.add_column()
        for label, value in self.lines:
            head.add_row(label, value)
        up = time.monotonic() - self.started
        head.add_row(
            "running",
            f"{up:.0f}s: {self.calls} calls, {sum(self.events.values())} events, "
            f"{self.receiver.total} webhooks received (Ctrl-C to stop)",
        )
        return Group(
            Panel(head, title="callhook demo", border_style="blue"),
            self._calls_table(),
            self._agents_table(),
            self._webhooks_table(),
        )

    def _calls_table(self) -> Table:
        t = Table(title="live calls", title_justify="left", expand=True)
        for col in ("call", "caller", "called", "direction", "state", "queue", "legs"):
            t.add_column(col)
        calls = sorted(self._calls(), key=lambda c: c.start)
        for c in calls[-SHOWN_CALLS:]:
            legs = ", ".join(
                f"{'outside' if leg.external else leg.extension or leg.channel} {leg.state}"
                f"{' (hold)' if leg.on_hold else ''}"
                for leg in c.legs
            )
            name = c.caller_name if c.caller_name and c.caller_name != c.caller_num else ""
            t.add_row(
                c.call_id, f"{c.caller_num} {name}".strip(), c.called_num, c.direction or "", c.state, c.queue, legs
            )
        if not calls:
            t.add_row("", "(no call right now)", "", "", "", "", "")
        return t

    def _agents_table(self) -> Table:
        t = Table(title="agents", title_justify="left", expand=True)
        for col in ("queue", "agent", "extension", "status", "since"):
            t.add_column(col)
        for a in self._agents():
            status = f"paused: {a.reason}" if a.paused else ("in a call" if a.in_call else "ready")
            since = a.since.strftime("%H:%M:%S") if a.since else ""
            t.add_row(a.queue, a.name, a.extension, Text(status, style="yellow" if a.paused else ""), since)
        return t

    def _webhooks_table(self) -> Group:
        counts = Table(title="webhooks delivered to the local receiver", title_justify="left", expand=True)
        for d in Dialect:
            counts.add_column(d.value, justify="right")
        counts.add_row(*(str(self.receiver.counts.get(d.value, 0)) for d in Dialect))
        last = Table(title="last requests", title_justify="left", expand=True)
        for col in ("#", "dialect", "request", "event", "answer"):
            last.add_column(col, no_wrap=True, overflow="ellipsis")
        for rec in list(self.receiver.recent)[-SHOWN_REQUESTS:]:
            what = describe(rec.event) if rec.event is not None else rec.error
            check = f" sig {rec.signature}" if rec.signature else (f" {rec.auth}" if rec.auth else "")
            last.add_row(str(rec.n), rec.dialect, f"{rec.method} {rec.path[:48]}", what, f"{rec.status}{check}")
        return Group(counts, last)
