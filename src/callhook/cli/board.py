"""The demo's terminal board: live calls, agents and the webhooks the receiver got.

Two faces over one set of counters. :meth:`Board.render` is what ``rich.live.Live``
redraws (four times a second): a header with the one-time dashboard link, the API
address and the admin token -- each on a line of its own, never cut, so they can be
copied from an 80x24 terminal -- then, as far as the terminal's height allows, the
live calls and the agents (read from the hub's tracker through the same helpers the
API routes use, so the board and ``/api/v1/calls/live`` never disagree), per
dialect counters and the last few webhook requests; a section that does not fit is
left out, a table that does not fit whole shows its first rows and says how many
more there are. The dashboard link is renewed as soon as it is used or expires. In plain mode (``--no-ui``, or
stdout is not a terminal) every event and every webhook request is one log line
on stdout, plus a status line every few seconds.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from callhook.core.events import Event, EventType
from callhook.core.subscription import Dialect
from callhook.receiver import Received, Receiver, describe

if TYPE_CHECKING:
    from callhook.bootstrap import Hub

__all__ = ["Board"]

SHOWN_CALLS = 12
SHOWN_REQUESTS = 8


class Board:
    def __init__(self, console: Console, receiver: Receiver, *, plain: bool) -> None:
        self.console = console
        self.receiver = receiver
        self.plain = plain
        self.hub: Hub | None = None
        self.lines: list[tuple[str, str]] = []  # (label, value) for the header
        self.events: Counter[str] = Counter()
        self.recent_events: deque[Event] = deque(maxlen=SHOWN_REQUESTS)
        self.started = time.monotonic()
        self.api = ""  # where the browser reaches the hub
        self.receiver_url = ""
        self.ami_port = 0
        self.rate = 0.0
        self._code = ""

    # ------------------------------------------------------------ the one-time dashboard link
    def dashboard_link(self) -> str:
        """The link shown now (kept fresh by :meth:`link_renewed`)."""
        from callhook.dashboard.signin import LINK_PREFIX

        return f"{self.api}{LINK_PREFIX}{self._code}" if self._code else "(a sign-in link is being made)"

    async def link_renewed(self) -> bool:
        """True (and a new code issued) when no link was issued yet or the last was used or has expired."""
        from callhook.dashboard.signin import issue_code

        if self.hub is None:
            return False
        if self._code and await self.hub.sessions.code_valid(self._code):
            return False
        self._code = await issue_code(self.hub, name="demo")
        return True

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

        calls = [live_out(c, link) for link in self.hub.pbxes for c in link.tracker.snapshot().calls]
        return calls + [ingested_out(c) for c in self.hub.ingest.model.live_calls()]

    def _agents(self) -> list[Any]:
        if self.hub is None:
            return []
        from callhook.api.agents import agents_seen
        from callhook.api.auth import Principal

        return agents_seen(self.hub, Principal(None))

    # ------------------------------------------------------------ rich view
    def render(self) -> RenderableType:
        width, height = self.console.size
        head = self._header()
        parts: list[RenderableType] = [head]
        budget = height - self._height(head, width) - 1  # the cursor's line
        for make in (self._calls_table, self._agents_table, self._counts_table, self._requests_table):
            part = self._fit(make, budget, width)
            if part is None:
                break
            parts.append(part)
            budget -= self._height(part, width)
        return Group(*parts)

    def _header(self) -> Panel:
        head = Table.grid(padding=(0, 1))
        head.add_column(style="bold", no_wrap=True, min_width=9)
        head.add_column(no_wrap=True, overflow="fold")
        up = time.monotonic() - self.started
        if self.hub is not None:
            head.add_row("dashboard", self.dashboard_link())
            head.add_row("", Text("open in a browser; works once, within 5 min, then a new one shows", "dim"))
            head.add_row("API", f"{self.api}/api/v1  docs: /docs")
            head.add_row("token", self.hub.admin_token)
            head.add_row("webhooks", f"{self.receiver_url} (5 dialects)  PBX: AMI :{self.ami_port}, {self.rate:g}/s")
        else:
            head.add_row("", "starting...")
        head.add_row(
            "running",
            f"{up:.0f}s: {self.calls} calls, {self.receiver.total} webhooks received. Ctrl-C stops",
        )
        return Panel(head, title="callhook demo", title_align="left", border_style="blue", padding=(0, 1))

    def _height(self, part: RenderableType, width: int) -> int:
        return len(self.console.render_lines(part, self.console.options.update(width=width), pad=False))

    def _fit(self, make: Any, budget: int, width: int) -> RenderableType | None:
        """``make(rows)`` with as many rows as fit ``budget`` lines (None: not even one)."""
        rows = SHOWN_CALLS
        while rows >= 1:
            part: RenderableType = make(rows)
            if self._height(part, width) <= budget:
                return part
            rows -= 1 if rows <= 4 else rows // 2
        return None

    def _calls_table(self, rows: int = SHOWN_CALLS) -> Table:
        calls = sorted(self._calls(), key=lambda c: c.start)
        shown = calls[-rows:]
        more = f" (and {len(calls) - len(shown)} more)" if len(calls) > len(shown) else ""
        t = Table(title=f"live calls: {len(calls)}{more}", title_justify="left", expand=True, padding=(0, 1))
        for col in ("caller", "called", "state", "queue", "legs"):
            t.add_column(col, no_wrap=True, overflow="ellipsis")
        for c in shown:
            legs = ", ".join(
                f"{'outside' if leg.external else leg.extension or leg.channel} {leg.state}"
                f"{' (hold)' if leg.on_hold else ''}"
                for leg in c.legs
            )
            name = c.caller_name if c.caller_name and c.caller_name != c.caller_num else ""
            t.add_row(f"{c.caller_num} {name}".strip(), c.called_num, c.state, c.queue, legs)
        if not calls:
            t.add_row("(no call right now)", "", "", "", "")
        return t

    def _agents_table(self, rows: int = SHOWN_CALLS) -> Table:
        agents = self._agents()
        shown = agents[:rows]
        more = f" (and {len(agents) - len(shown)} more)" if len(agents) > len(shown) else ""
        t = Table(title=f"agents{more}", title_justify="left", expand=True, padding=(0, 1))
        for col in ("queue", "agent", "extension", "status", "since"):
            t.add_column(col, no_wrap=True, overflow="ellipsis")
        for a in shown:
            status = f"paused: {a.reason}" if a.paused else ("in a call" if a.in_call else "ready")
            since = a.since.strftime("%H:%M:%S") if a.since else ""
            t.add_row(a.queue, a.name, a.extension, Text(status, style="yellow" if a.paused else ""), since)
        return t

    def _counts_table(self, rows: int = 1) -> Table:
        counts = Table(title="webhooks delivered to the local receiver", title_justify="left", expand=True)
        for d in Dialect:
            counts.add_column(d.value, justify="right", no_wrap=True)
        counts.add_row(*(str(self.receiver.counts.get(d.value, 0)) for d in Dialect))
        return counts

    def _requests_table(self, rows: int = SHOWN_REQUESTS) -> Table:
        last = Table(title="last requests", title_justify="left", expand=True)
        for col in ("#", "dialect", "request", "event", "answer"):
            last.add_column(col, no_wrap=True, overflow="ellipsis")
        for rec in list(self.receiver.recent)[-min(rows, SHOWN_REQUESTS) :]:
            what = describe(rec.event) if rec.event is not None else rec.error
            check = f" sig {rec.signature}" if rec.signature else (f" {rec.auth}" if rec.auth else "")
            last.add_row(str(rec.n), rec.dialect, f"{rec.method} {rec.path[:48]}", what, f"{rec.status}{check}")
        return last
