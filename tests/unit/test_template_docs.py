"""The template examples in docs/dialects.md are valid templates that render the
fields their vendor document names (so the documentation cannot rot)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from urllib.parse import parse_qs

from callhook import templating
from callhook.core import dialects
from callhook.core.subscription import Dialect, Subscription

DOC = Path(__file__).resolve().parents[2] / "docs" / "dialects.md"


def _examples() -> dict[str, dict[str, object]]:
    out = {}
    for block in re.findall(r"```json\n(\{\"url\".*?)\n```", DOC.read_text(), re.S):
        obj = json.loads(block)
        out[obj["url"]] = obj
    return out


def _render(obj: dict[str, object]) -> tuple[str, bytes]:
    t = obj["template"]
    assert isinstance(t, dict)
    tpl = templating.build(t.get("body", ""), t.get("method", "POST"), t.get("url", ""), t.get("headers", {}))
    sub = Subscription(id="doc", url=str(obj["url"]), dialect=Dialect.TEMPLATE)
    templating.check(tpl, sub)
    req = dialects.encode(templating.sample_event(), dataclasses.replace(sub, template=tpl))
    assert req is not None
    return req.header("Content-Type") or "", req.body


def test_the_two_crm_examples_render() -> None:
    examples = _examples()
    [bitrix] = [v for k, v in examples.items() if "telephony.externalcall.register" in k]
    [hubspot] = [v for k, v in examples.items() if "/crm/v3/objects/calls" in k]
    ctype, body = _render(bitrix)
    assert ctype == "application/x-www-form-urlencoded"
    form = parse_qs(body.decode())
    # the sample: an incoming call from +74951234567 to +74957654321, answered by 101
    assert form["PHONE_NUMBER"] == ["+74951234567"]
    assert form["USER_PHONE_INNER"] == ["101"]
    assert form["TYPE"] == ["2"]  # Bitrix24: 2 = incoming
    ctype, body = _render(hubspot)
    assert ctype == "application/json"
    props = json.loads(body)["properties"]
    assert props["hs_call_direction"] == "INBOUND"
    assert props["hs_call_duration"] == 65_000  # milliseconds: the sample's 65 s
    assert props["hs_call_status"] == "COMPLETED"
    assert props["hs_call_from_number"] == "+74951234567"
