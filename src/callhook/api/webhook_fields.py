"""The webhook fields of issue 15: masking, the list filters, the template, rotation.

Models and checks only; :mod:`callhook.api.webhooks` uses them on its routes.
Validated at the door (422 naming the field): masking fields and mode, every
filter value, each template part (syntax, unknown names, a trial render:
:func:`callhook.templating.check`), a rotation's secret and overlap.
"""

from __future__ import annotations

import base64
import secrets
from typing import Annotated, Literal

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field, field_validator

from callhook.api.times import Timestamp
from callhook.core.events import Direction, EventType
from callhook.core.retry import MAX_CLIENT_ERROR_ATTEMPTS, MAX_DELAY, MAX_SCHEDULE, RetryOverride, check_lifetimes
from callhook.core.subscription import Filters, Masking, Subscription, Template, check_secret
from callhook.templating import TemplateError, build, check

__all__ = [
    "ORDERING_HELP",
    "FiltersModel",
    "MaskingIn",
    "MaskingOut",
    "Ordering",
    "RetryModel",
    "RotateIn",
    "RotateOut",
    "TemplateModel",
    "masking_of",
    "new_secret",
    "template_of",
]

Text = Annotated[str, Field(max_length=256)]
Values = Annotated[list[Text], Field(max_length=256)]
MAX_OVERLAP = 30 * 86400.0
_DIRECTIONS = frozenset(d.value for d in Direction)


def _unprocessable(field: str, msg: str) -> HTTPException:
    return HTTPException(
        status_code=422, detail=[{"loc": ["body", *field.split(".")], "msg": msg, "type": "value_error"}]
    )


class FiltersModel(BaseModel):
    """Each filter empty: any. A value in a list matches; the single-value fields (the
    first contract) add to their lists."""

    model_config = ConfigDict(extra="forbid")
    queue: Text = ""
    extension: Text = ""
    agent: Text = ""
    queues: Values = Field(default_factory=list)
    extensions: Values = Field(default_factory=list)
    agents: Values = Field(default_factory=list)
    numbers: Values = Field(default_factory=list, description="caller or called number, compared by digits")
    number_prefixes: Values = Field(default_factory=list, description="caller or called number starts with")
    directions: Values = Field(default_factory=list, description="incoming, outgoing, incomingLocal, ...")
    tenants: Values = Field(default_factory=list, description="the event's tenant is one of these")

    @field_validator("numbers", "number_prefixes")
    @classmethod
    def _numbers(cls, v: list[str]) -> list[str]:
        for n in v:
            if not any(c.isdigit() for c in n) or any(c.isalpha() for c in n):
                raise ValueError("each value must be a phone number (digits, with + ( ) - or spaces)")
        return v

    @field_validator("directions")
    @classmethod
    def _directions(cls, v: list[str]) -> list[str]:
        for d in v:
            if d not in _DIRECTIONS:
                raise ValueError(f"unknown direction; known: {', '.join(sorted(_DIRECTIONS))}")
        return v

    @field_validator("queues", "extensions", "agents", "tenants")
    @classmethod
    def _values(cls, v: list[str]) -> list[str]:
        if any(not x for x in v):
            raise ValueError("an empty value matches nothing; leave the list out instead")
        return v

    def to_filters(self) -> Filters:
        return Filters(
            self.queue,
            self.extension,
            self.agent,
            frozenset(self.queues),
            frozenset(self.extensions),
            frozenset(self.agents),
            frozenset(self.numbers),
            frozenset(self.number_prefixes),
            frozenset(self.directions),
            frozenset(self.tenants),
        )

    @classmethod
    def of(cls, f: Filters) -> FiltersModel:
        return cls(
            queue=f.queue,
            extension=f.extension,
            agent=f.agent,
            **{n: sorted(getattr(f, n)) for n in ("queues", "extensions", "agents", "numbers", "number_prefixes")},
            directions=sorted(f.directions),
            tenants=sorted(f.tenants),
        )


MaskField = Literal["caller", "called", "both", "cdr", "agent"]


class MaskingIn(BaseModel):
    """Which numbers to hide and how; ``both`` is caller and called."""

    model_config = ConfigDict(extra="forbid")
    fields: Annotated[list[MaskField], Field(min_length=1, max_length=5)]
    mode: Literal["last_digits", "hash"] = "last_digits"
    keep: Annotated[int, Field(ge=0, le=12, description="last_digits: how many last digits stay")] = 4


class MaskingOut(BaseModel):
    fields: list[str]
    mode: str
    keep: int


def masking_of(body: MaskingIn, before: Masking | None) -> Masking:
    """The stored form: ``both`` spelled out; hash mode gets a key of its own (kept
    when the webhook hashed before, so its tokens stay the same)."""
    fields = set(body.fields)
    if "both" in fields:
        fields = (fields - {"both"}) | {"caller", "called"}
    key = ""
    if body.mode == "hash":
        key = before.key if before is not None and before.mode == "hash" and before.key else secrets.token_urlsafe(32)
    return Masking(frozenset(fields), body.mode, body.keep, key)


def masking_out(m: Masking | None) -> MaskingOut | None:
    return None if m is None else MaskingOut(fields=sorted(m.fields), mode=m.mode, keep=m.keep)


Part = Annotated[str, Field(max_length=16384)]


class TemplateModel(BaseModel):
    """The template dialect's request: each part a Jinja2 template over the event."""

    model_config = ConfigDict(extra="forbid")
    method: Annotated[str, Field(max_length=256)] = "POST"
    url: Annotated[str, Field(max_length=2048, description='"": the webhook\'s url')] = ""
    headers: Annotated[dict[Text, Part], Field(max_length=32)] = Field(default_factory=dict)
    body: Part = ""

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        for k in v:
            if not k or any(c in k for c in ':\r\n ()<>@,;\\"/[]?={}\t'):
                raise ValueError("a header name must be an HTTP token")
        return v

    @classmethod
    def of(cls, t: Template | None) -> TemplateModel | None:
        return None if t is None else cls(method=t.method, url=t.url, headers=dict(t.headers), body=t.body)


def template_of(body: TemplateModel, sub: Subscription) -> Template:
    """The checked template (422 naming the part that fails)."""
    t = build(body.body, body.method, body.url, body.headers)
    try:
        check(t, sub)
    except TemplateError as exc:
        raise _unprocessable(exc.part, exc.reason) from None
    return t


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: Annotated[str, Field(max_length=256, description="the new secret; left out: one is generated")] = ""
    overlap: Annotated[float, Field(ge=0, le=MAX_OVERLAP, allow_inf_nan=False)] = Field(
        default=86400.0, description="seconds the old secret keeps signing too (0: stop at once)"
    )

    @field_validator("secret")
    @classmethod
    def _secret(cls, v: str) -> str:
        return check_secret(v)


class RotateOut(BaseModel):
    id: str
    secret: str = Field(description="the new secret: shown this once")
    previous_secret_until: Timestamp | None = Field(description="when the old secret stops signing; null: none")


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


# --- retries and ordering (docs/delivery.md) ---
Seconds = Annotated[float, Field(ge=0, le=MAX_DELAY, allow_inf_nan=False)]
_EVENT_TYPES = frozenset(t.value for t in EventType)


class RetryModel(BaseModel):
    """This webhook's own retry settings; a field left out keeps the installation's."""

    model_config = ConfigDict(extra="forbid")
    schedule: Annotated[list[Seconds], Field(max_length=MAX_SCHEDULE)] | None = Field(
        default=None, description="seconds before retry 1, 2, ...; its length + 1 is the number of attempts"
    )
    client_error_attempts: Annotated[int, Field(ge=1, le=MAX_CLIENT_ERROR_ATTEMPTS)] | None = Field(
        default=None, description="attempts after which another 4xx (or a 3xx) answer is a dead letter"
    )
    lifetimes: Annotated[dict[Text, Seconds], Field(max_length=64)] = Field(
        default_factory=dict,
        description="seconds an event type stays worth sending, e.g. {'call.ringing': 60}; 0: no lifetime",
    )

    @field_validator("lifetimes")
    @classmethod
    def _lifetimes(cls, v: dict[str, float]) -> dict[str, float]:
        check_lifetimes(v, _EVENT_TYPES)
        return v

    def to_override(self) -> RetryOverride | None:
        o = RetryOverride(
            None if self.schedule is None else tuple(self.schedule), self.client_error_attempts, dict(self.lifetimes)
        )
        return None if o.empty else o

    @classmethod
    def of(cls, o: RetryOverride | None) -> RetryModel | None:
        if o is None or o.empty:
            return None
        return cls(
            schedule=None if o.schedule is None else list(o.schedule),
            client_error_attempts=o.client_error_attempts,
            lifetimes=dict(o.lifetimes),
        )


Ordering = Literal["arrival", "call"]
ORDERING_HELP = (
    '"arrival": one after the other in acceptance order, across calls (as a PBX sends them); '
    '"call": calls in parallel, each in its own order'
)
