"""Customer-experience insights for support leads: self-service gaps, drivers of satisfaction, deflection."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import get
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlmodel import Session

from assistant.auth.models import Role
from assistant.indexing.service import TextEncoder
from assistant.insights import deflection, drivers, gaps
from assistant.kpis.routes import PeriodEnd, PeriodStart, period_bounds
from assistant.settings import Settings

LEAD_ROLES = [Role.admin, Role.agent]


@get(
    "/v1/insights/self-service-gaps",
    tags=["insights"],
    summary="Where a new FAQ entry would deflect the most tickets: the period's tickets by topic, least covered first",
    description=(
        "The tickets created in the period, clustered by meaning (k-means, the number of clusters chosen by the "
        "silhouette). Per cluster: volume, main department, the tickets nearest its centre (PII-masked), and its "
        "coverage by the closest published FAQ entry's whole text (discounted when that entry matches another "
        "cluster better) and its cohesion (how alike its tickets are); ranked by volume × (1 − coverage) × "
        "cohesion, a cluster linked by nearest centroid to one ranked above it at three quarters per link. Default "
        "period: the last 30 days. Needs at least 10 tickets."
    ),
    opt={"roles": LEAD_ROLES},
    sync_to_thread=True,
)
def self_service_gaps(
    session: NamedDependency[Session],
    text_encoder: NamedDependency[TextEncoder],
    settings: NamedDependency[Settings],
    start: PeriodStart = None,
    end: PeriodEnd = None,
    top: Annotated[int, QueryParameter(ge=1, le=200, description="how many clusters to return")] = 20,
    ticket_ids: Annotated[bool, QueryParameter(description="list every ticket id of each cluster")] = False,
) -> dict[str, Any]:
    period_start, period_end = period_bounds(start, end)
    return gaps.gap_report(
        session,
        start=period_start,
        end=period_end,
        encoder=text_encoder,
        top=top,
        max_tickets=settings.insights_max_tickets,
        model_text_chars=settings.model_text_chars,
        with_ticket_ids=ticket_ids,
    )


@get(
    "/v1/insights/drivers",
    tags=["insights"],
    summary="What drives satisfaction: each service fact's effect on CSAT (or CES, NPS) with a 95% CI, ranked",
    description=(
        "A regression (OLS, robust standard errors) of the survey score on the ticket's first response and "
        "resolution time (business hours), FCR, reopened, transferred, channel, department and language, over "
        "the responses given in the period on solved tickets. Each driver: effect, 95% confidence interval, "
        "p-value, rank by impact, and a sentence. 400 `too_few_responses` when the data cannot carry the model "
        "(at least 10 responses per coefficient, 30 in all). Default period: the last 90 days."
    ),
    opt={"roles": LEAD_ROLES},
    sync_to_thread=True,
)
def satisfaction_drivers(
    session: NamedDependency[Session],
    start: PeriodStart = None,
    end: PeriodEnd = None,
    target: Annotated[str, QueryParameter(pattern="^(csat|ces|nps)$", description="the score to explain")] = "csat",
) -> dict[str, Any]:
    period_start, period_end = period_bounds(start, end, default_days=90)
    return drivers.drivers_report(session, start=period_start, end=period_end, target=target)


@get(
    "/v1/insights/deflection",
    tags=["insights"],
    summary="Deflection rate over time: portal searches not followed by a ticket from the same customer",
    description=(
        "A search made with `customer_ref` counts as deflected when that customer opens no ticket within the "
        "window (ASSISTANT_DEFLECTION_WINDOW_HOURS, default 72, or `window_hours`). Searches still inside their "
        "window are `pending`, those without a customer reference are counted but not judged. Default period: "
        "the last 30 days."
    ),
    opt={"roles": LEAD_ROLES},
    sync_to_thread=True,
)
def deflection_rate(
    session: NamedDependency[Session],
    settings: NamedDependency[Settings],
    state: State,
    start: PeriodStart = None,
    end: PeriodEnd = None,
    group_by: Annotated[str, QueryParameter(pattern="^(day|week|all)$")] = "day",
    window_hours: Annotated[float | None, QueryParameter(gt=0, le=24 * 90)] = None,
) -> dict[str, Any]:
    period_start, period_end = period_bounds(start, end)
    state.search_log.flush()  # this process's latest searches count
    return deflection.deflection_report(
        session,
        start=period_start,
        end=period_end,
        window_hours=window_hours or settings.deflection_window_hours,
        group_by=group_by,
    )
