"""One time format in the JSON API: ISO 8601 with an offset.

Times the store keeps as Unix seconds (deliveries, attempts, delivery statistics,
circuit breakers) are written like the times of calls and records, which are
datetimes: ``2026-11-21T14:23:54.537+00:00`` (UTC, milliseconds). :data:`Timestamp`
is the field type that does it: the model keeps the float, the JSON (and the
OpenAPI schema: ``string``, ``date-time``) has the ISO text. Unix seconds remain
only where a vendor dialect demands them in a webhook payload (docs/dialects.md),
never in this API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

__all__ = ["Timestamp", "iso"]


def iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="milliseconds")


Timestamp = Annotated[
    float,
    PlainSerializer(iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]
