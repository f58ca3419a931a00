"""The loss ledger: what became of every delivery ever routed, per subscription.

Each backend runs one grouped count over the outbox (``LEDGER_SQL``: subscription,
tenant, status, dead reason, replay or not) and :func:`fold` turns its rows into
:class:`~callhook.store.base.LedgerRow`; :func:`total` sums them. A delivery row is
never removed (only its status changes), so every routed delivery is in exactly one
bucket: ``routed = delivered + pending + inflight + dead + expired``. A deleted
subscription keeps its row in the ledger, its open deliveries closed as
``dead`` with reason ``subscription_deleted`` at the delete.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from callhook.store.base import DeadReason, LedgerRow

__all__ = ["LEDGER_SQL", "fold", "total"]

# {where}: "" or " WHERE ..." (placeholders in the backend's style).
LEDGER_SQL = (
    "SELECT subscription_id, min(tenant), status, dead_reason, replay_of IS NOT NULL, count(*) "
    "FROM deliveries{where} GROUP BY subscription_id, status, dead_reason, replay_of IS NOT NULL"
)

_FIELD = {"done": "delivered", "pending": "pending", "inflight": "inflight", "expired": "expired"}
_DEAD = {
    DeadReason.GAVE_UP.value: "dead_gave_up",
    "": "dead_gave_up",  # rows dead before reasons were kept
    DeadReason.DISABLED.value: "dead_disabled",
    DeadReason.DELETED.value: "dead_deleted",
}


def fold(rows: Iterable[Sequence[Any]]) -> list[LedgerRow]:
    """Ledger rows, by subscription id, from ``LEDGER_SQL``'s rows."""
    by: dict[str, dict[str, Any]] = {}
    for sub_id, tenant, status, reason, replay, n in rows:
        acc = by.setdefault(sub_id, {"subscription_id": sub_id, "tenant": tenant or ""})
        name = _DEAD.get(reason, "dead_gave_up") if status == "dead" else _FIELD[status]
        acc[name] = acc.get(name, 0) + n
        if replay:
            acc["replays"] = acc.get("replays", 0) + n
    return [LedgerRow(**by[k]) for k in sorted(by)]


def total(rows: Sequence[LedgerRow]) -> LedgerRow:
    """All subscriptions' ledgers summed (``subscription_id`` and ``tenant`` "")."""
    out = LedgerRow("")
    for r in rows:
        out = replace(
            out,
            delivered=out.delivered + r.delivered,
            pending=out.pending + r.pending,
            inflight=out.inflight + r.inflight,
            expired=out.expired + r.expired,
            dead_gave_up=out.dead_gave_up + r.dead_gave_up,
            dead_disabled=out.dead_disabled + r.dead_disabled,
            dead_deleted=out.dead_deleted + r.dead_deleted,
            replays=out.replays + r.replays,
        )
    return out
