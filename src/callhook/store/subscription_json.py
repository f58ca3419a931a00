"""Schema 8's subscription columns as JSON text: masking, the list filters, the template.

The column list and the row mapping stay in :mod:`callhook.store.base`
(``SUBSCRIPTION_COLUMNS``, ``subscription_row``, ``subscription_from_row``); these
are their JSON halves. ``dumps``/``loads`` are the backend's JSON functions.
"""

from __future__ import annotations

from typing import Any

from callhook.core.subscription import Filters, Masking, Template
from callhook.templating import render as render_template

__all__ = [
    "filters_more_to_text",
    "masking_from_text",
    "masking_to_text",
    "template_from_text",
    "template_to_text",
]

_LIST_FILTERS = ("queues", "extensions", "agents", "numbers", "number_prefixes", "directions", "tenants")


def masking_to_text(m: Masking | None, dumps: Any) -> str | None:
    if m is None:
        return None
    return str(dumps({"fields": sorted(m.fields), "mode": m.mode, "keep": m.keep, "key": m.key}))


def masking_from_text(text: str | None, loads: Any, with_secrets: bool) -> Masking | None:
    if not text:
        return None
    v = loads(text)
    return Masking(frozenset(v["fields"]), v["mode"], int(v["keep"]), v["key"] if with_secrets else "")


def filters_more_to_text(f: Filters, dumps: Any) -> str | None:
    more = {name: sorted(getattr(f, name)) for name in _LIST_FILTERS if getattr(f, name)}
    return str(dumps(more)) if more else None


def template_to_text(t: Template | None, dumps: Any) -> str | None:
    if t is None:
        return None
    return str(dumps({"method": t.method, "url": t.url, "headers": dict(t.headers), "body": t.body}))


def template_from_text(text: str | None, loads: Any) -> Template | None:
    if not text:
        return None
    v = loads(text)
    return Template(v["body"], v["method"], v["url"], v["headers"], render=render_template)
