"""Schema fuzzing: every HTTP route, driven by the service's own OpenAPI schema (schemathesis + Hypothesis).

Each operation gets a bounded number of generated requests, schema-valid ones and schema-violating ones, sent
through the real app (with an admin key; the webhooks signed with their source's secret). Every response must be
no 5xx and conform to the schema: its body (for the status codes the schema documents), content type and headers.
The service's other 4xx (401, 404, 409, 413, ...) are its documented ``{"error": ...}`` shapes and are not in the
schema, so status-code conformance is not asked for.

The table of cases run per operation is printed (``pytest -s`` or ``-rP``) and recorded as the test's
``fuzz_cases`` property (JUnit XML). ``ASSISTANT_FUZZ_EXAMPLES`` raises the per-operation budget for a deeper run.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from litestar.testing import TestClient
from pydantic import BaseModel
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)

from assistant.events.models import EventCreate
from assistant.security import signed_headers
from assistant.surveys.models import SurveyCreate
from assistant.tickets.models import TicketCreate
from tests.support import WEBHOOK_SECRET, WEBHOOK_SOURCE, post_ticket, ticket_payload

# Cases per operation and generation mode (positive, negative); derandomized, so every run sends the same ones.
EXAMPLES = int(os.environ.get("ASSISTANT_FUZZ_EXAMPLES", "15"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, response_headers_conformance]
# The webhooks read their raw body (the signature is checked before the body is parsed), so the schema names no
# request body for them; their bodies are generated from the models they are parsed with.
WEBHOOK_MODELS: dict[str, type[BaseModel]] = {
    "/v1/webhooks/tickets": TicketCreate,
    "/v1/webhooks/events": EventCreate,
    "/v1/webhooks/surveys": SurveyCreate,
}
BATCH_KEYS = {"/v1/webhooks/events": "events", "/v1/webhooks/surveys": "surveys"}


def test_every_route_survives_schema_fuzzing(
    client: TestClient[Any],
    make_key: Callable[[str], dict[str, str]],
    record_property: Callable[[str, object], None],
) -> None:
    auth = make_key("admin")
    seed(client, auth)
    raw_schema = client.get("/schema/openapi.json").json()
    describe_webhook_bodies(raw_schema)
    schema = schemathesis.openapi.from_dict(raw_schema)

    counts: Counter[str] = Counter()
    statuses: dict[str, Counter[int]] = {}
    failures: dict[str, str] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith("/schema"):  # the docs themselves; the WebSocket route is not in the schema
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            label = f"{operation.label} [{mode.value}]"
            seen = statuses.setdefault(label, Counter())
            try:
                fuzz_operation(client, operation, mode, auth, seen)
            except Unsatisfiable:
                if mode is GenerationMode.POSITIVE:
                    raise
                # Nothing to make invalid: the operation takes no parameters and no body.
                del statuses[label]
            except (Exception, FailureGroup) as exc:  # a FailureGroup is a BaseExceptionGroup
                failures[label] = str(exc)
            if label in statuses:
                counts[label] = seen.total()

    total = counts.total()
    record_property("fuzz_cases", total)
    record_property("fuzz_failures", len(failures))
    print(f"\nschema fuzzing: {total} cases over {len(counts)} operations x modes, {len(failures)} failing")
    for label, count in counts.items():
        answered = " ".join(f"{status}x{n}" for status, n in sorted(statuses[label].items()))
        print(f"  {count:4d}  {label:<62} {answered}{'  FAILED' if label in failures else ''}")
    assert not failures, (
        f"{len(failures)} of {len(counts)} operations x modes failed ({total} cases):\n\n"
        + "\n\n".join(f"{label}:\n{message}" for label, message in failures.items())
    )


def fuzz_operation(
    client: TestClient[Any],
    operation: APIOperation,
    mode: GenerationMode,
    auth: dict[str, str],
    statuses: Counter[int],
) -> None:
    cases = operation.as_strategy(generation_mode=mode)
    # Webhook bodies mostly carry the configured source (so the signature is accepted); some keep the generated one.
    keep_source = st.sampled_from([False, False, False, True]) if operation.path in WEBHOOK_MODELS else st.just(True)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        # No shrinking: requests may run the model. A failure is reported with the request that caused it.
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=cases, keep_source=keep_source)
    def fuzz(case: Case, keep_source: bool) -> None:
        response = send(client, case, auth, keep_source=keep_source)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    fuzz()


def send(client: TestClient[Any], case: Case, auth: dict[str, str], *, keep_source: bool) -> Any:
    """The case as a request on the app's test client: with an admin key, or for a webhook signed."""
    if case.path in WEBHOOK_MODELS:
        body = None if isinstance(case.body, NotSet) else case.body
        if not keep_source and isinstance(body, dict):
            body = with_source(body)
            case.body = body  # so that a reported failure shows the body that was sent
        content = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        return client.post(case.formatted_path, content=content, headers=signed_headers(WEBHOOK_SECRET, content))
    request = case.as_transport_kwargs(base_url=str(client.base_url), headers=auth)
    payload: dict[str, Any] = {}
    if "json" in request:
        payload["json"] = request["json"]
    elif "data" in request:
        payload["content"] = request["data"]
    return client.request(
        request["method"], request["url"], params=request.get("params"), headers=request["headers"], **payload
    )


def with_source(body: dict[str, Any]) -> dict[str, Any]:
    body = {**body, "source": WEBHOOK_SOURCE}
    for key in BATCH_KEYS.values():
        if isinstance(body.get(key), list):
            body[key] = [{**e, "source": WEBHOOK_SOURCE} if isinstance(e, dict) else e for e in body[key]]
    return body


def describe_webhook_bodies(raw_schema: dict[str, Any]) -> None:
    """A request body for each webhook whose operation has none: its model's JSON schema."""
    components = raw_schema.setdefault("components", {}).setdefault("schemas", {})
    for path, model in WEBHOOK_MODELS.items():
        operation = raw_schema["paths"][path]["post"]
        if "requestBody" in operation:
            continue
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in body.pop("$defs", {}).items():
            components.setdefault(name, definition)
        if path in BATCH_KEYS:  # one item, or a batch under its key
            key = BATCH_KEYS[path]
            batch = {"type": "array", "items": body, "minItems": 1, "maxItems": 3}
            envelope = {"type": "object", "properties": {"source": {"type": "string"}, key: batch}}
            body = {"anyOf": [body, {**envelope, "required": [key]}]}
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}


def seed(client: TestClient[Any], auth: dict[str, str]) -> None:
    """Ticket 1 (solved, so case 1), FAQ entry 1 and a schedule: small generated ids find something too."""
    assert post_ticket(client, ticket_payload(customer_ref="cust-42")).status_code == 201
    solved = client.post("/v1/tickets/1/solve", json={"resolution": "Re-sent the parcel."}, headers=auth)
    assert solved.status_code == 201, solved.text
    faq = {"question": "Where is my parcel?", "answer": "Track it under Orders."}
    assert client.post("/v1/faq", json=faq, headers=auth).status_code == 201
    hours = {"timezone": "Europe/Berlin", "hours": {"mon": ["09:00-17:00"]}, "holidays": []}
    assert client.put("/v1/schedules/support", json=hours, headers=auth).status_code == 200
