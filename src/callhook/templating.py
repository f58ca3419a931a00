"""The template dialect's engine: Jinja2's sandbox, strict about unknown names.

:func:`render` is the ``Renderer`` a :class:`~callhook.core.subscription.Template`
carries (the core's template dialect calls it; the core itself imports no engine).
Templates run in :class:`jinja2.sandbox.SandboxedEnvironment` (no attribute access
to Python internals, ranges capped) with :class:`jinja2.StrictUndefined` (a name or
field that does not exist is an error, never an empty string) and no autoescaping
(bodies are JSON or forms, not HTML: write ``{{ party.caller_num|tojson }}`` in JSON).
Rendering runs on the event loop, so the work of one template is bounded: ``range``
gives at most 1,000 items, loops nest at most two deep, a part renders at most 1 MiB.

:func:`check` validates a template when a webhook is created or changed: the syntax,
the top-level names against the canonical event's fields
(:data:`callhook.core.dialects.template.NAMES`), then a trial render against
:func:`sample_event` (every group filled) so an unknown field such as
``party.caller`` is refused too. Errors are :class:`TemplateError` naming the part.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SandboxedEnvironment

from callhook.core.dialects import template as dialect
from callhook.core.events import (
    AgentInfo,
    CallOutcome,
    CallParty,
    CallRecord,
    Direction,
    Event,
    EventType,
    Hangup,
    Leg,
    Presence,
    QueueCall,
    Transfer,
)
from callhook.core.subscription import Subscription, Template

__all__ = ["TemplateError", "build", "check", "render", "sample_event"]

MAX_OUTPUT = 1 << 20  # a rendered part longer than this (1 MiB) is refused
# Rendering runs on the event loop: bounded work per template. The sandbox caps
# range() at 100,000 items; callhook at 1,000, and loops nest two deep at most.
MAX_RANGE = 1000
MAX_LOOP_DEPTH = 2


def _range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise OverflowError(f"range() of more than {MAX_RANGE} items")
    return r


_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
_ENV.globals["range"] = _range


def _loop_depth(node: jinja2.nodes.Node, depth: int = 0) -> int:
    here = depth + 1 if isinstance(node, jinja2.nodes.For) else depth
    return max([here, *(_loop_depth(child, here) for child in node.iter_child_nodes())])


class TemplateError(ValueError):
    """A template that does not parse, names an unknown field or does not render; ``part``
    names which one (``template.body``, ``template.headers.X-Name`` ...)."""

    def __init__(self, part: str, reason: str) -> None:
        super().__init__(f"{part}: {reason}")
        self.part = part
        self.reason = reason


@functools.lru_cache(maxsize=2048)
def _compiled(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


def render(source: str, context: Mapping[str, Any]) -> str:
    """``source`` rendered over ``context``; ValueError for any failure (an unknown
    field, a sandbox violation, a syntax error, an output over 1 MiB)."""
    parts: list[str] = []
    size = 0
    try:
        for piece in _compiled(source).generate(context):
            size += len(piece)
            if size > MAX_OUTPUT:
                raise ValueError(f"template: the output is longer than {MAX_OUTPUT} characters")
            parts.append(piece)
    except (jinja2.TemplateError, OverflowError) as exc:
        raise ValueError(f"template: {exc}") from None
    return "".join(parts)


def build(body: str = "", method: str = "POST", url: str = "", headers: Mapping[str, str] | None = None) -> Template:
    """A template with this engine attached (what the API and the store build)."""
    return Template(body=body, method=method, url=url, headers=dict(headers or {}), render=render)


def attach(sub: Subscription) -> Subscription:
    """``sub`` with the engine on its template (a subscription read back from a store)."""
    t = sub.template
    if t is None or t.render is not None:
        return sub
    return dataclasses.replace(sub, template=dataclasses.replace(t, render=render))


def _parts(t: Template) -> list[tuple[str, str]]:
    parts = [("template.method", t.method), ("template.url", t.url), ("template.body", t.body)]
    return parts + [(f"template.headers.{k}", v) for k, v in t.headers.items()]


def check(t: Template, sub: Subscription) -> None:
    """Raise :class:`TemplateError` unless every part of ``t`` parses, uses known
    names only and renders against :func:`sample_event` into a request."""
    for part, source in _parts(t):
        try:
            tree = _ENV.parse(source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(part, f"syntax error on line {exc.lineno}: {exc.message}") from None
        if _loop_depth(tree) > MAX_LOOP_DEPTH:
            raise TemplateError(part, f"loops nest more than {MAX_LOOP_DEPTH} deep")
        unknown = meta.find_undeclared_variables(tree) - dialect.NAMES - {"range"}
        if unknown:
            known = ", ".join(sorted(dialect.NAMES))
            raise TemplateError(part, f"unknown field {', '.join(sorted(unknown))}; known: {known}")
    ctx = dialect.context(sample_event())
    for part, source in _parts(t):
        try:
            render(source, ctx)
        except ValueError as exc:
            raise TemplateError(part, str(exc).removeprefix("template: ")) from None
    try:
        dialect.encode(sample_event(), dataclasses.replace(sub, template=dataclasses.replace(t, render=render)))
    except ValueError as exc:
        text = str(exc)
        part = text.split(" ", 1)[0] if text.startswith("template.") else "template"
        raise TemplateError(part, text.split(" ", 1)[1] if part != "template" else text) from None


def sample_event(now: datetime | None = None) -> Event:
    """An ended inbound queue call with every group filled: what a template is
    checked against, and what the preview renders without a recorded event."""
    ts = now or datetime(2026, 1, 15, 10, 30, 5, tzinfo=UTC)
    start = ts.replace(second=0)
    return Event(
        id="01KF0000000000000000000000",
        type=EventType.CALL_ENDED,
        ts=ts,
        tenant="acme",
        call_id="1768473000.42",
        seq=7,
        party=CallParty(
            caller_num="+74951234567",
            caller_name="Ivan Petrov",
            called_num="+74957654321",
            direction=Direction.INCOMING,
            caller_type="external",
            record_name="20260115-103000-+74951234567-+74957654321",
        ),
        leg=Leg(number="101", name="Anna", login="anna", email="anna@example.com", leg_id="1768473001.43"),
        hangup=Hangup(reason="Normal Clearing", cause=16, answered=True),
        queue="support",
        custom_field="order-1234",
        transfer=Transfer(transferer="101", target="102", kind="blind"),
        outcome=CallOutcome(answered=True, answering_exten="101", last_dial_answered=True, last_dialed_exten="101"),
        record=CallRecord(
            start=start,
            end=ts,
            answer=start.replace(second=12),
            duration=65,
            billsec=53,
            disposition="ANSWERED",
            answered_by="101",
            source="+74951234567",
            destination="+74957654321",
        ),
        queue_call=QueueCall(member_channel_id="1768473000.42", agent_channel_id="1768473001.43", wait=12.0),
        agent=AgentInfo(login="anna", number="101", name="Anna", email="anna@example.com"),
        presence=Presence(number="101", state="idle", previous="in_use", status=0, name="Anna"),
        variables={"CRM_ID": "42"},
        source="simulator",
    )
