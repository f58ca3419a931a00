"""The OpenAPI document against the app: generated requests never get a 500, and every
answer matches the documented schema and content type (schemathesis, bounded and
deterministic). The endless SSE stream is left out (tested in test_api_stream)."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance
from schemathesis.config import SchemathesisConfig
from test_api_support import ADMIN, TOKEN_A, auth, make_hub

from callhook.api.app import create_app
from callhook.store.memory import MemoryStore

HUB = make_hub(MemoryStore())
APP = create_app(HUB)
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
schema = schemathesis.openapi.from_asgi("/openapi.json", APP, config=CONFIG).exclude(path="/api/v1/stream")


def test_the_document_is_complete() -> None:
    doc = APP.openapi()
    assert doc["components"]["securitySchemes"].keys() == {"HTTPBearer", "HTTPBasic"}
    missing = [
        (path, method)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if "200" not in op["responses"] and "201" not in op["responses"] and "204" not in op["responses"]
    ]
    assert missing == []


@schema.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_answers_match_the_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers=auth(ADMIN), checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
    )


@schema.parametrize()
@settings(max_examples=3, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_with_a_tenant_token(case: schemathesis.Case) -> None:
    """The tenant's code paths (scoping, ownership, read-only checks): no 5xx either."""
    case.call_and_validate(
        headers=auth(TOKEN_A), checks=[not_a_server_error, response_schema_conformance, content_type_conformance]
    )
