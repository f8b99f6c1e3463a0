"""The signed survey webhook."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import RawBody
from pydantic import ValidationError
from sqlmodel import Session

from assistant.errors import InvalidInput, validation_details
from assistant.security import verify_signature
from assistant.settings import Settings
from assistant.surveys import service
from assistant.surveys.models import SurveyCreate, SurveysAccepted
from assistant.tickets.routes import parse_json_object
from knowledge.pii import mask_pii

MAX_SURVEYS_PER_DELIVERY = 1_000


@post(
    "/v1/webhooks/surveys",
    tags=["webhooks"],
    summary="A survey tool delivers CSAT/CES/NPS responses (one, or a batch under 'surveys')",
    description=(
        "Signed like the other webhooks. Each response: source, response_id, responded_at, at least one of "
        "csat (1–5), ces (1–7), nps (0–10), and optionally ticket_id, customer_ref, comment (PII-masked before "
        "it is stored). Idempotent by source + response_id: the same response again is a duplicate, a changed "
        "one replaces the stored one. 201 when something new was stored, 200 otherwise."
    ),
    opt={"signed": True},
    sync_to_thread=True,
)
def surveys_webhook(
    request: Request,
    body: RawBody,
    state: State,
    session: NamedDependency[Session],
    settings: NamedDependency[Settings],
) -> Response[SurveysAccepted]:
    raw = parse_json_object(body)
    batch = raw.get("surveys") if "surveys" in raw else [raw]
    first = batch[0] if isinstance(batch, list) and batch and isinstance(batch[0], dict) else {}
    source = str(raw.get("source") or first.get("source", ""))
    verify_signature(
        secrets=state.webhook_secrets,
        source=source,
        headers=request.headers,
        body=body,
        tolerance_seconds=settings.webhook_tolerance_seconds,
    )
    accepted = service.ingest_surveys(session, parse_surveys(batch, source), mask=mask_pii)
    return Response(accepted, status_code=201 if accepted.accepted else 200)


def parse_surveys(batch: Any, source: str) -> list[SurveyCreate]:
    if not isinstance(batch, list) or not batch:
        raise InvalidInput("'surveys' must be a non-empty list of survey responses.", code="validation_error")
    if len(batch) > MAX_SURVEYS_PER_DELIVERY:
        raise InvalidInput(
            f"At most {MAX_SURVEYS_PER_DELIVERY} responses per delivery; use `assistant import-surveys` for history.",
            code="too_many_surveys",
        )
    surveys = []
    for number, item in enumerate(batch):
        try:
            survey = SurveyCreate.model_validate(item)
        except ValidationError as exc:
            raise InvalidInput(f"Survey response {number} is not valid.", details=validation_details(exc)) from None
        if survey.source != source:
            raise InvalidInput("All responses of one delivery must come from the signing source.", code="mixed_sources")
        surveys.append(survey)
    return surveys
