"""``/api/v1/webhooks``: the subscriptions (the contract in the HTTP API issue).

Passwords and secrets are write-only: accepted on create and update, never returned
(``auth.username``, ``auth.has_password`` and ``has_secret`` are). The URL and the URL
template come back with the password of their user info and the values of secret
query parameters as ``****``, and every configured header value as ``****``
(:mod:`callhook.delivery.redact`). A PATCH that sends such a masked value back
unchanged keeps the stored one. A tenant token creates subscriptions in its own
tenant and sees only those.

Validated at the door (422 naming the field): the URL, the signing secret
(:func:`~callhook.core.subscription.check_secret`), the URL template (pbx2is only,
an http(s) URL with known placeholders), the header names and values, and the
fields of :mod:`callhook.api.webhook_fields` (masking, the list filters, the
template dialect's template).

Issue 15 adds: ``POST /{id}/rotate-secret`` (a new secret, shown once; the old one
keeps signing for an overlap), ``DELETE /{id}/previous-secret`` (end the overlap),
``POST /{id}/preview`` (the request this webhook would get for a recorded event or
the sample) and ``POST /preview`` (a template rendered before any webhook exists).
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from callhook.api import webhook_test
from callhook.api.auth import Auth, Principal
from callhook.api.limits import LimitsModel, limit_fields
from callhook.api.paging import ERRORS
from callhook.api.services import hub_of
from callhook.api.times import Timestamp
from callhook.api.webhook_fields import (
    ORDERING_HELP,
    FiltersModel,
    MaskingIn,
    MaskingOut,
    Ordering,
    RetryModel,
    RotateIn,
    RotateOut,
    TemplateModel,
    masking_of,
    masking_out,
    new_secret,
    template_of,
)
from callhook.api.webhook_preview import PreviewIn, PreviewOut, render_preview
from callhook.core import dialects
from callhook.core.dialects import telphin
from callhook.core.dialects.pbx2is import TEMPLATE_NAMES
from callhook.core.subscription import (
    DEFAULT_METHOD,
    BasicAuth,
    Dialect,
    Subscription,
    check_secret,
    check_url_template,
)
from callhook.delivery.redact import MASK, mask_headers, mask_url

if TYPE_CHECKING:
    from callhook.bootstrap import Hub

__all__ = ["WebhookIn", "WebhookOut", "check_url", "router", "subscriptions_changed", "to_out"]

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], responses=ERRORS)

Text = Annotated[str, Field(max_length=256)]


class AuthIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["basic"] = "basic"
    username: Text
    password: Annotated[str, Field(max_length=256)] = ""


class AuthOut(BaseModel):
    type: Literal["basic"] = "basic"
    username: str
    has_password: bool = False


def check_url(v: str) -> str:
    try:
        parts = urlsplit(v)
        parts.port  # noqa: B018 -- raises ValueError for a port out of range
    except ValueError:
        raise ValueError("must be an absolute http:// or https:// URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in v):
        raise ValueError("must be an absolute http:// or https:// URL")
    return v


def _data_header(v: str | None) -> str | None:
    if v and not telphin.valid_data_header(v):
        raise ValueError("an HTTP header name (a token), not one callhook sets (Authorization, Content-Type ...)")
    return v


GetDataHeader = Annotated[
    str,
    Field(max_length=64, description="telphin, GET: the header that carries the data instead of the query string"),
    AfterValidator(_data_header),
]


def check_data_header(dialect: Dialect, value: str) -> None:
    """422 unless ``value`` is "" or the dialect is telphin (the one whose seed asks for it)."""
    if value and dialect is not Dialect.TELPHIN:
        raise _unprocessable("get_data_header", "only for the telphin dialect")


def check_template(v: str) -> str:
    """A pbx2is URL template: an absolute http(s) URL once filled, with known placeholders only."""
    if not v:
        return v
    check_url_template(v, TEMPLATE_NAMES)
    check_url(v.replace("{", "").replace("}", ""))
    return v


def _check_secret(v: str | None) -> str | None:
    return None if v is None else check_secret(v)


def _check_headers(v: dict[str, str] | None) -> dict[str, str] | None:
    for k, val in (v or {}).items():
        if not k or any(c in k for c in ":\r\n ") or any(c in val for c in "\r\n"):
            raise ValueError(f"header {k!r}: invalid name or value")
    return v


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[str, Field(max_length=2048)]
    dialect: Dialect
    method: Literal["GET", "POST"] | None = None
    events: Annotated[list[Text], Field(max_length=64)] | None = None
    url_template: Annotated[str, Field(max_length=2048)] = ""
    auth: AuthIn | None = None
    headers: Annotated[dict[Text, Annotated[str, Field(max_length=4096)]], Field(max_length=32)] = Field(
        default_factory=dict
    )
    secret: Annotated[str, Field(max_length=256)] = ""
    filters: FiltersModel = Field(default_factory=FiltersModel)
    tenant: Text = ""
    description: Annotated[str, Field(max_length=1024)] = ""
    enabled: bool = True
    get_data_header: GetDataHeader = ""
    retry: RetryModel | None = None
    ordering: Ordering = Field(default="arrival", description=ORDERING_HELP)
    masking: MaskingIn | None = None
    template: TemplateModel | None = Field(default=None, description="the template dialect's request (only there)")
    limits: LimitsModel | None = None  # issue 15: this webhook's own delivery limits

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_url(v)

    @field_validator("url_template")
    @classmethod
    def _template(cls, v: str) -> str:
        return check_template(v)

    @field_validator("secret")
    @classmethod
    def _secret(cls, v: str) -> str:
        return check_secret(v)

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        _check_headers(v)
        return v


class WebhookPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[str, Field(max_length=2048)] | None = None
    method: Literal["GET", "POST"] | None = None
    events: Annotated[list[Text], Field(max_length=64)] | None = None
    url_template: Annotated[str, Field(max_length=2048)] | None = None
    auth: AuthIn | None = None
    headers: Annotated[dict[Text, Annotated[str, Field(max_length=4096)]], Field(max_length=32)] | None = None
    secret: Annotated[str, Field(max_length=256)] | None = None
    filters: FiltersModel | None = None
    description: Annotated[str, Field(max_length=1024)] | None = None
    enabled: bool | None = None
    get_data_header: GetDataHeader | None = None
    retry: RetryModel | None = Field(default=None, description="replaces the override; null removes it")
    ordering: Ordering | None = None
    masking: MaskingIn | None = Field(default=None, description="replaces the masking; null removes it")
    template: TemplateModel | None = None
    limits: LimitsModel | None = Field(default=None, description="replaces the limits; null removes them")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else check_url(v)

    @field_validator("url_template")
    @classmethod
    def _template(cls, v: str | None) -> str | None:
        return None if v is None else check_template(v)

    @field_validator("secret")
    @classmethod
    def _secret(cls, v: str | None) -> str | None:
        return _check_secret(v)

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        return _check_headers(v)


class StatsOut(BaseModel):
    since: Timestamp
    attempts: int
    successes: int
    success_rate: float | None
    p50_ms: float | None
    p99_ms: float | None
    last_error: str
    last_error_at: Timestamp | None


class WebhookOut(BaseModel):
    id: str
    url: str
    dialect: Dialect
    method: str
    events: list[str]
    url_template: str
    auth: AuthOut | None
    headers: dict[str, str]
    has_secret: bool
    filters: FiltersModel
    tenant: str
    description: str
    enabled: bool
    get_data_header: str = ""
    retry: RetryModel | None = Field(description="this webhook's own retry settings; null: the installation's")
    ordering: Ordering = Field(default="arrival", description=ORDERING_HELP)
    masking: MaskingOut | None = None
    template: TemplateModel | None = None
    previous_secret_until: Timestamp | None = Field(
        default=None, description="a rotation's old secret signs too until then; null: no overlap"
    )
    limits: LimitsModel | None = Field(default=None, description="this webhook's own delivery limits; null: none")


def to_out(sub: Subscription, has_secret: bool) -> WebhookOut:
    return WebhookOut(
        id=sub.id,
        url=mask_url(sub.url),
        dialect=sub.dialect,
        method=sub.method,
        events=sorted(sub.events),
        url_template=mask_url(sub.url_template) if sub.url_template else "",
        auth=AuthOut(username=sub.auth.username, has_password=bool(sub.auth.password)) if sub.auth else None,
        headers=mask_headers(sub.headers),
        has_secret=has_secret,
        filters=FiltersModel.of(sub.filters),
        tenant=sub.tenant,
        description=sub.description,
        enabled=sub.enabled,
        get_data_header=sub.get_data_header,
        retry=RetryModel.of(sub.retry),
        ordering="call" if sub.ordering == "call" else "arrival",
        masking=masking_out(sub.masking),
        template=TemplateModel.of(sub.template),
        previous_secret_until=sub.previous_secret_until if sub.previous_secret else None,
        limits=LimitsModel.of(sub),
    )


def subscriptions_changed(hub: Hub) -> None:
    """Tell the accepter to read the subscriptions again before routing the next event,
    and the dispatcher before its next send (pending deliveries go out with the new
    configuration)."""
    hub.accepter.invalidate()
    hub.dispatcher.invalidate()


def _unprocessable(field: str, msg: str) -> HTTPException:
    return HTTPException(status_code=422, detail=[{"loc": ["body", field], "msg": msg, "type": "value_error"}])


def _events(dialect: Dialect, names: list[str] | None) -> frozenset[str]:
    if not names:
        return frozenset()
    try:
        return frozenset(t.value for t in dialects.canonical_types(dialect, names))
    except ValueError as exc:
        raise _unprocessable("events", str(exc)) from None


def _dialect_template(sub: Subscription, body: TemplateModel | None) -> Subscription:
    """``sub`` with its checked template: required by the template dialect, refused elsewhere."""
    if sub.dialect is not Dialect.TEMPLATE:
        if body is not None:
            raise _unprocessable("template", f"only the template dialect takes a template, not {sub.dialect.value}")
        return sub
    if body is None:
        if sub.template is None:
            raise _unprocessable("template", "the template dialect needs a template (at least its body or url)")
        return sub
    return replace(sub, template=template_of(body, sub))


def _template_fits(dialect: Dialect, template: str) -> None:
    if template and dialect != Dialect.PBX2IS:
        raise _unprocessable("url_template", f"only the pbx2is dialect fills a URL template, not {dialect.value}")


def _tenant(p: Principal, requested: str) -> str:
    if p.tenant is not None:
        if requested and requested != p.tenant:
            raise HTTPException(status_code=403, detail="a tenant token can only create its own tenant's webhooks")
        return p.tenant
    return requested


async def _get_owned(request: Request, p: Principal, sub_id: str, with_secrets: bool = False) -> Subscription:
    sub: Subscription | None = await hub_of(request).store.get_subscription(
        sub_id, tenant=p.tenant, with_secrets=with_secrets
    )
    if sub is None:
        raise HTTPException(status_code=404, detail=f"no webhook {sub_id!r}")
    return sub


@router.post("", status_code=201, response_model=WebhookOut)
async def create_webhook(body: WebhookIn, request: Request, p: Auth) -> WebhookOut:
    hub = hub_of(request)
    _template_fits(body.dialect, body.url_template)
    method = body.method or DEFAULT_METHOD[body.dialect]
    check_data_header(body.dialect, body.get_data_header)
    sub = Subscription(
        id="wh_" + secrets.token_hex(8),
        url=body.url,
        dialect=body.dialect,
        method=method,
        events=_events(body.dialect, body.events),
        url_template=body.url_template,
        auth=BasicAuth(body.auth.username, body.auth.password) if body.auth else None,
        headers=dict(body.headers),
        secret=body.secret,
        filters=body.filters.to_filters(),
        tenant=_tenant(p, body.tenant),
        enabled=body.enabled,
        description=body.description,
        get_data_header=body.get_data_header,
        retry=body.retry.to_override() if body.retry else None,
        ordering=body.ordering,
        masking=masking_of(body.masking, None) if body.masking else None,
        **limit_fields(body.limits),
    )
    sub = _dialect_template(sub, body.template)
    await hub.store.put_subscription(sub, hub.now())
    subscriptions_changed(hub)
    return to_out(sub, bool(sub.secret))


@router.get("", response_model=list[WebhookOut])
async def list_webhooks(
    request: Request, p: Auth, tenant: Annotated[str | None, Query(max_length=256)] = None
) -> list[WebhookOut]:
    """Every webhook the token sees (Telphin's agent events are listed on their own routes)."""
    subs = await hub_of(request).store.list_subscriptions(tenant=p.scope(tenant), with_secrets=True)
    return [to_out(s, bool(s.secret)) for s in subs if not s.telphin_client]


@router.get("/{sub_id}", response_model=WebhookOut)
async def get_webhook(sub_id: str, request: Request, p: Auth) -> WebhookOut:
    sub = await _get_owned(request, p, sub_id, with_secrets=True)
    return to_out(sub, bool(sub.secret))


@router.patch("/{sub_id}", response_model=WebhookOut)
async def patch_webhook(sub_id: str, body: WebhookPatch, request: Request, p: Auth) -> WebhookOut:
    hub = hub_of(request)
    sub = await _get_owned(request, p, sub_id, with_secrets=True)
    changes: dict[str, Any] = {}
    if body.get_data_header is not None:
        check_data_header(sub.dialect, body.get_data_header)
    for name in ("url", "method", "url_template", "secret", "description", "enabled", "get_data_header"):
        v = getattr(body, name)
        if v is not None:
            changes[name] = v
    for name in ("url", "url_template"):  # the masked form read back unchanged: keep the stored value
        if name in changes and getattr(sub, name) and changes[name] == mask_url(getattr(sub, name)):
            del changes[name]
    if "url_template" in changes:
        _template_fits(sub.dialect, changes["url_template"])
    if body.events is not None:
        changes["events"] = _events(sub.dialect, body.events)
    if body.headers is not None:
        changes["headers"] = {k: sub.headers.get(k, v) if v == MASK else v for k, v in body.headers.items()}
    if body.auth is not None:
        password = body.auth.password
        if password == MASK and sub.auth is not None:
            password = sub.auth.password
        changes["auth"] = BasicAuth(body.auth.username, password)
    elif "auth" in body.model_fields_set:  # an explicit null removes the credentials
        changes["auth"] = None
    if body.filters is not None:
        changes["filters"] = body.filters.to_filters()
    if "secret" in changes:  # a secret set directly replaces at once: no overlap (rotate-secret has one)
        changes["previous_secret"], changes["previous_secret_until"] = "", None
    if body.masking is not None:
        changes["masking"] = masking_of(body.masking, sub.masking)
    elif "masking" in body.model_fields_set:
        changes["masking"] = None
    if body.retry is not None:
        changes["retry"] = body.retry.to_override()
    elif "retry" in body.model_fields_set:  # an explicit null: the installation's policy again
        changes["retry"] = None
    if body.ordering is not None:
        changes["ordering"] = body.ordering
    if "limits" in body.model_fields_set:  # issue 15: replaced as a whole; null removes them
        changes.update(limit_fields(body.limits))
    new = _dialect_template(replace(sub, **changes), body.template)
    await hub.store.put_subscription(new, hub.now())
    subscriptions_changed(hub)
    return to_out(new, bool(new.secret))


@router.delete("/{sub_id}", status_code=204)
async def delete_webhook(sub_id: str, request: Request, p: Auth) -> Response:
    hub = hub_of(request)
    if not await hub.store.delete_subscription(sub_id, tenant=p.tenant):
        raise HTTPException(status_code=404, detail=f"no webhook {sub_id!r}")
    subscriptions_changed(hub)
    return Response(status_code=204)


@router.get("/{sub_id}/stats", response_model=StatsOut)
async def webhook_stats(
    sub_id: str,
    request: Request,
    p: Auth,
    window: Annotated[int, Query(ge=60, le=30 * 86400, description="seconds back")] = 86400,
) -> StatsOut:
    """Delivery health of one webhook over the last ``window`` seconds: attempts, success rate, latency."""
    hub = hub_of(request)
    await _get_owned(request, p, sub_id)
    since = hub.now() - window
    st = await hub.store.subscription_stats(sub_id, since)
    return StatsOut(
        since=since,
        attempts=st.attempts,
        successes=st.successes,
        success_rate=st.success_rate,
        p50_ms=st.p50_ms,
        p99_ms=st.p99_ms,
        last_error=st.last_error,
        last_error_at=st.last_error_at,
    )


class WebhookTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    wait: Annotated[float, Field(ge=0, le=60, description="seconds to wait for the first attempt")] = 10.0


@router.post(
    "/{sub_id}/test",
    response_model=webhook_test.TestOut,
    responses={409: {"description": "the webhook is disabled, or no test event fits its event types and filters"}},
)
async def send_test_event(
    sub_id: str, request: Request, p: Auth, body: WebhookTestIn | None = None
) -> webhook_test.TestOut:
    """Send a test event to this one webhook and answer with its first attempt (see ``api/webhook_test.py``)."""
    hub = hub_of(request)
    sub = await _get_owned(request, p, sub_id, with_secrets=True)
    if not sub.enabled:
        raise HTTPException(status_code=409, detail=f"webhook {sub_id!r} is disabled: enable it to test it")
    event = webhook_test.sample_for(sub, hub.now_dt())
    if event is None:
        why = f"no test event fits webhook {sub_id!r} (its event types or filters)"
        raise HTTPException(status_code=409, detail=why)
    return await webhook_test.run_test(hub, sub, event, (body or WebhookTestIn()).wait)


@router.post("/{sub_id}/rotate-secret", response_model=RotateOut)
async def rotate_secret(sub_id: str, request: Request, p: Auth, body: RotateIn | None = None) -> RotateOut:
    """A new signing secret (the one given, or a generated ``whsec_`` one), answered this
    once. The old one keeps signing too for ``overlap`` seconds: each request carries
    both signatures in ``webhook-signature``, so the receiver can switch at its pace.
    A secret still overlapping from an earlier rotation is dropped (two at most)."""
    hub = hub_of(request)
    sub = await _get_owned(request, p, sub_id, with_secrets=True)
    body = body or RotateIn()
    secret = body.secret or new_secret()
    if secret == sub.secret:
        raise _unprocessable("secret", "the new secret is the current one")
    until = hub.now() + body.overlap if sub.secret and body.overlap > 0 else None
    new = replace(sub, secret=secret, previous_secret=sub.secret if until else "", previous_secret_until=until)
    await hub.store.put_subscription(new, hub.now())
    subscriptions_changed(hub)
    return RotateOut(id=sub.id, secret=secret, previous_secret_until=until)


@router.delete("/{sub_id}/previous-secret", status_code=204)
async def end_overlap(sub_id: str, request: Request, p: Auth) -> Response:
    """Stop signing with the previous secret now (the receiver has switched)."""
    hub = hub_of(request)
    sub = await _get_owned(request, p, sub_id, with_secrets=True)
    await hub.store.put_subscription(replace(sub, previous_secret="", previous_secret_until=None), hub.now())
    subscriptions_changed(hub)
    return Response(status_code=204)


class TemplatePreviewIn(PreviewIn):
    url: Annotated[str, Field(max_length=2048)] = "https://receiver.example/hook"
    template: TemplateModel
    masking: MaskingIn | None = None
    headers: Annotated[dict[Text, Annotated[str, Field(max_length=4096)]], Field(max_length=32)] = Field(
        default_factory=dict
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_url(v)


@router.post("/preview", response_model=PreviewOut)
async def preview_template(body: TemplatePreviewIn, request: Request, p: Auth) -> PreviewOut:
    """A template (and masking) rendered against a recorded event or the sample, before
    any webhook is created: the request it would send, credentials redacted."""
    draft = Subscription(
        id="preview",
        url=body.url,
        dialect=Dialect.TEMPLATE,
        headers=dict(body.headers),
        masking=masking_of(body.masking, None) if body.masking else None,
    )
    draft = replace(draft, template=template_of(body.template, draft))
    return await render_preview(hub_of(request), p.tenant, draft, body.event_id)


@router.post("/{sub_id}/preview", response_model=PreviewOut)
async def preview_webhook(sub_id: str, request: Request, p: Auth, body: PreviewIn | None = None) -> PreviewOut:
    """The request this webhook (any dialect, masking applied) would get for a recorded
    event or the sample, unsigned, credentials redacted; nothing is sent."""
    sub = await _get_owned(request, p, sub_id, with_secrets=True)
    return await render_preview(hub_of(request), p.tenant, sub, (body or PreviewIn()).event_id)
