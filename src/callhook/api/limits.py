"""A webhook's own delivery limits in the API (``limits`` on the webhook routes).

``{"concurrency": 4, "per_second": 10, "burst": 20}``: at most 4 of its requests in
flight at once, at most 10 requests a second on average with bursts of up to 20
(a token bucket; burst defaults to one second's worth). Each field may be left out or
null (no such limit); ``"limits": null`` (or ``{}``) removes them. A delivery waiting
for its webhook's quota is deferred without counting an attempt and holds up no other
webhook (docs/delivery.md, "Limits").
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from callhook.core.subscription import Subscription

__all__ = ["MAX_CONCURRENCY", "MAX_PER_SECOND", "LimitsModel", "limit_fields"]

MAX_CONCURRENCY = 1000
MAX_PER_SECOND = 100_000.0


class LimitsModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    concurrency: Annotated[int, Field(ge=1, le=MAX_CONCURRENCY)] | None = Field(
        default=None, description="requests of this webhook in flight at once; null: only the endpoint's limit"
    )
    per_second: Annotated[float, Field(gt=0, le=MAX_PER_SECOND)] | None = Field(
        default=None, description="requests per second (token bucket); null: no rate limit"
    )
    burst: Annotated[int, Field(ge=1, le=int(MAX_PER_SECOND))] | None = Field(
        default=None, description="the bucket's size: requests that may go at once; default one second's worth"
    )

    @model_validator(mode="after")
    def _burst_needs_rate(self) -> LimitsModel:
        if self.burst is not None and self.per_second is None:
            raise ValueError("burst needs per_second")
        return self

    @classmethod
    def of(cls, sub: Subscription) -> LimitsModel | None:
        if not (sub.limit_concurrency or sub.limit_rps):
            return None
        return cls(
            concurrency=sub.limit_concurrency or None,
            per_second=sub.limit_rps or None,
            burst=sub.limit_burst or None,
        )


def limit_fields(m: LimitsModel | None) -> dict[str, Any]:
    """The Subscription fields for ``m`` (all zero: no limits)."""
    if m is None:
        return {"limit_concurrency": 0, "limit_rps": 0.0, "limit_burst": 0}
    return {
        "limit_concurrency": m.concurrency or 0,
        "limit_rps": float(m.per_second or 0.0),
        "limit_burst": m.burst or 0,
    }
