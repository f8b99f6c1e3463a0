"""The signed survey webhook."""

from __future__ import annotations

from litestar import Request, Response, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import RawBody
from sqlmodel import Session

from assistant.openapi import signed_body
from assistant.settings import Settings
from assistant.surveys import service
from assistant.surveys.models import SurveyCreate, SurveysAccepted
from assistant.webhooks import read_signed_batch
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
    operation_class=signed_body(SurveyCreate, batch_key="surveys"),
)
def surveys_webhook(
    request: Request,
    body: RawBody,
    state: State,
    session: NamedDependency[Session],
    settings: NamedDependency[Settings],
) -> Response[SurveysAccepted]:
    surveys = read_signed_batch(
        body,
        headers=request.headers,
        secrets=state.webhook_secrets,
        tolerance_seconds=settings.webhook_tolerance_seconds,
        key="surveys",
        model=SurveyCreate,
        noun="Survey response",
        limit=MAX_SURVEYS_PER_DELIVERY,
        bulk_hint="use `assistant import-surveys` for history.",
    )
    accepted = service.ingest_surveys(session, surveys, mask=mask_pii)
    return Response(accepted, status_code=201 if accepted.accepted else 200)
