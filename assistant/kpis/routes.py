"""KPIs as JSON or CSV, and the business-hour schedules behind them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from litestar import Response, delete, get, put
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Reference, Schema
from litestar.params import Body, Parameter, QueryParameter
from sqlmodel import Session

from assistant.auth.models import Role
from assistant.errors import ApiOperation, InvalidInput
from assistant.events.service import recompute_department
from assistant.kpis import service
from assistant.schedules import service as schedules
from assistant.schedules.models import DEFAULT_DEPARTMENT, ScheduleRead
from assistant.schedules.service import ScheduleBook

LEAD_ROLES = [Role.admin, Role.agent]
Department = Annotated[str, Parameter(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.*\-]+$")]


# A period's ends as the API takes them: a plain date, as the CLI takes it, is midnight UTC.
PeriodStart = Annotated[
    str | None,
    QueryParameter(name="from", max_length=40, description="start: 2026-11-01 (midnight UTC) or a time with a zone"),
]
PeriodEnd = Annotated[
    str | None,
    QueryParameter(name="to", max_length=40, description="end (exclusive): a date or a time with a zone"),
]


def period_bounds(start: str | None, end: str | None, *, default_days: int = 30) -> tuple[datetime, datetime]:
    bounds: dict[str, datetime | None] = {}
    problems = []
    for name, text in (("from", start), ("to", end)):
        try:
            bounds[name] = None if text is None else service.moment(text)
        except ValueError as exc:
            problems.append({"field": name, "in": "query", "message": f"'{name}' {exc}."})
    if problems:
        raise InvalidInput(
            " ".join(problem["message"] for problem in problems), code="invalid_period", details=problems
        )
    period_end = (bounds["to"] or datetime.now(UTC)).astimezone(UTC)
    period_start = (bounds["from"] or period_end - timedelta(days=default_days)).astimezone(UTC)
    return period_start, period_end


@dataclass
class KpisOperation(ApiOperation):
    """``format=csv`` answers the same table as text/csv."""

    def __post_init__(self) -> None:
        super().__post_init__()
        ok = self.responses["200"] if self.responses else None
        if ok is not None and not isinstance(ok, Reference):
            ok.content = {**(ok.content or {}), "text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))}


@get(
    "/v1/kpis",
    tags=["kpis"],
    summary="FRT, first/full resolution time, FCR, reopen and transfer rates, per group",
    description=(
        "Durations in calendar hours and in business hours (the department's schedule). `format=csv` gives "
        "the same table as CSV. Default period: the last 30 days."
    ),
    opt={"roles": LEAD_ROLES},
    sync_to_thread=True,
    operation_class=KpisOperation,
)
def kpis(
    session: NamedDependency[Session],
    start: PeriodStart = None,
    end: PeriodEnd = None,
    group_by: Annotated[
        str,
        QueryParameter(
            max_length=64,
            description="department, channel, agent, language, day, week or all; "
            "several comma-separated, e.g. department,week",
        ),
    ] = "department",
    format: Annotated[str, QueryParameter(pattern="^(json|csv)$")] = "json",
) -> Response[Any]:
    period_start, period_end = period_bounds(start, end)
    dimensions = service.parse_group_by(group_by)
    report = service.compute_kpis(session, start=period_start, end=period_end, group_by=dimensions)
    if format == "csv":
        filename = f"kpis-{'-'.join(d.value for d in dimensions)}-{period_start:%Y%m%d}-{period_end:%Y%m%d}.csv"
        return Response(
            service.kpis_csv(report),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return Response(report)


@get(
    "/v1/kpis/distribution",
    tags=["kpis"],
    summary="How many tickets fall in each duration bucket (FRT or resolution time), per group",
    description=(
        "Buckets: under 1 h, 1–4 h, 4–8 h, 8 h–1 d, 1–3 d, over 3 d; FRT over the tickets created in the "
        "period, resolution times over those solved in it. Default period: the last 30 days."
    ),
    opt={"roles": LEAD_ROLES},
    sync_to_thread=True,
)
def kpi_distribution(
    session: NamedDependency[Session],
    start: PeriodStart = None,
    end: PeriodEnd = None,
    metric: Annotated[str, QueryParameter(pattern="^(frt|first_resolution|full_resolution)$")] = "frt",
    hours: Annotated[str, QueryParameter(pattern="^(business|calendar)$")] = "business",
    group_by: Annotated[str, QueryParameter(max_length=64, description="as for /v1/kpis")] = "department",
) -> dict[str, Any]:
    period_start, period_end = period_bounds(start, end)
    return service.compute_distribution(
        session,
        start=period_start,
        end=period_end,
        group_by=service.parse_group_by(group_by),
        metric=metric,
        business=hours == "business",
    )


@get("/v1/schedules", tags=["kpis"], summary="Business-hour schedules", opt={"roles": LEAD_ROLES}, sync_to_thread=True)
def list_schedules(session: NamedDependency[Session]) -> list[ScheduleRead]:
    return schedules.list_schedules(session)


@put(
    "/v1/schedules/{department:str}",
    tags=["kpis"],
    summary="Set a department's business hours ('*' for the default); business durations are recomputed",
    opt={"roles": [Role.admin]},
    sync_to_thread=True,
)
def put_schedule(
    department: Department,
    data: Annotated[dict[str, Any], Body(description='{"timezone", "hours": {"mon": ["09:00-17:00"]}, "holidays"}')],
    session: NamedDependency[Session],
    schedule_book: NamedDependency[ScheduleBook],
) -> ScheduleRead:
    saved = schedules.put_schedule(session, department, data)
    schedule_book.invalidate()
    recompute_department(session, None if department == DEFAULT_DEPARTMENT else department, schedules=schedule_book)
    return saved


@delete(
    "/v1/schedules/{department:str}",
    tags=["kpis"],
    summary="Remove a department's own schedule (it falls back to '*')",
    opt={"roles": [Role.admin]},
    sync_to_thread=True,
)
def delete_schedule(
    department: Department, session: NamedDependency[Session], schedule_book: NamedDependency[ScheduleBook]
) -> None:
    schedules.delete_schedule(session, department)
    schedule_book.invalidate()
    recompute_department(session, None if department == DEFAULT_DEPARTMENT else department, schedules=schedule_book)
