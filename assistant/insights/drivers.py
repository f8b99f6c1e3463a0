"""What drives satisfaction: an ordinary least-squares regression of a survey score on the ticket's service facts.

One row per survey response that names a ticket with timings, from the period (by response date):
the score (CSAT 1–5, CES 1–7 or NPS 0–10) against first response time and full resolution time (business
hours), FCR, reopened, transferred, and the ticket's channel, department and language (each against its
most common value). statsmodels fits it with heteroskedasticity-robust (HC3) standard errors: survey
scores are bounded, so their spread is not the same everywhere. Drivers are ranked by impact: the change
in the score for a typical difference in the driver (one standard deviation of it in the data).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import and_, select
from sqlmodel import Session, col

from assistant.errors import InvalidInput
from assistant.events.models import TicketTiming
from assistant.surveys.models import SurveyResponse

HOUR = 3600.0
TARGETS = {"csat": "CSAT", "ces": "CES", "nps": "NPS"}
# At least this many responses per estimated coefficient, and never fewer than MIN_RESPONSES.
RESPONSES_PER_COEFFICIENT = 10
MIN_RESPONSES = 30
# A channel, department or language with fewer responses than this joins "other".
MIN_LEVEL_RESPONSES = 10
OTHER = "other"
NUMERIC = {
    "frt_hours": ("first response time", "each business hour of first response time"),
    "resolution_hours": ("resolution time", "each business hour of resolution time"),
}
FLAGS = {
    "fcr": ("first contact resolution", "resolving on first contact"),
    "reopened": ("reopened", "a reopen"),
    "transferred": ("transferred", "a transfer"),
}
CATEGORIES = ("channel", "department", "language")


def _rows(session: Session, target: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    score = col(getattr(SurveyResponse, target))
    query = (
        select(
            score,
            col(TicketTiming.frt_business_seconds),
            col(TicketTiming.full_resolution_business_seconds),
            col(TicketTiming.fcr),
            col(TicketTiming.reopens),
            col(TicketTiming.transfers),
            col(TicketTiming.channel),
            col(TicketTiming.department),
            col(TicketTiming.language),
        )
        .select_from(SurveyResponse)
        .join(
            TicketTiming,
            and_(
                col(TicketTiming.source) == col(SurveyResponse.source),
                col(TicketTiming.ticket_id) == col(SurveyResponse.ticket_id),
            ),
        )
        .where(col(SurveyResponse.responded_at) >= start, col(SurveyResponse.responded_at) < end, score.is_not(None))
    )
    return [
        {
            "score": float(row[0]),
            "frt_hours": None if row[1] is None else row[1] / HOUR,
            "resolution_hours": None if row[2] is None else row[2] / HOUR,
            "fcr": row[3],
            "reopened": (row[4] or 0) > 0,
            "transferred": (row[5] or 0) > 0,
            "channel": row[6] or "unknown",
            "department": row[7] or "unknown",
            "language": row[8] or "unknown",
        }
        for row in session.execute(query).all()
    ]


def drivers_report(session: Session, *, start: datetime, end: datetime, target: str = "csat") -> dict[str, Any]:
    if end <= start:
        raise InvalidInput("'to' must be later than 'from'.", code="invalid_period")
    if target not in TARGETS:
        raise InvalidInput(f"target is one of: {', '.join(TARGETS)}.", code="invalid_target")
    import pandas as pd
    import statsmodels.api as sm

    rows = _rows(session, target, start, end)
    name = TARGETS[target]
    # Only solved tickets answered by an agent have every fact; the others cannot be explained by them.
    complete = [r for r in rows if r["frt_hours"] is not None and r["resolution_hours"] is not None]
    if len(complete) < MIN_RESPONSES:
        raise _too_few(name, len(complete), MIN_RESPONSES, len(rows))
    frame = pd.DataFrame(complete)
    design = pd.DataFrame(index=frame.index)
    described: dict[str, tuple[str, str, str]] = {}  # column -> (driver, phrase, unit)
    dropped: list[str] = []
    for column, (label, phrase) in NUMERIC.items():
        if frame[column].std() > 0:
            design[column] = frame[column].astype(float)
            described[column] = (label, phrase, "per hour")
        else:
            dropped.append(label)
    for column, (label, phrase) in FLAGS.items():
        values = frame[column].astype(bool).astype(float)
        # A side held by a handful of responses would fit them exactly and leave no error to estimate.
        if min(values.sum(), len(values) - values.sum()) >= MIN_LEVEL_RESPONSES:
            design[column] = values
            described[column] = (label, phrase, "yes vs no")
        else:
            dropped.append(label)
    for category in CATEGORIES:
        counts = frame[category].value_counts()
        kept = set(counts[counts >= MIN_LEVEL_RESPONSES].index)
        levels = frame[category].where(frame[category].isin(kept), OTHER)
        if levels.nunique() < 2:
            dropped.append(category)
            continue
        reference = levels.value_counts().index[0]
        compared = sorted(set(levels) - {reference})
        if OTHER in compared and (levels == OTHER).sum() < MIN_LEVEL_RESPONSES:
            # Too few rare values to estimate on their own: they join the reference level, and its name says so.
            compared.remove(OTHER)
            reference = f"{reference} and rare {category} values"
        if not compared:
            dropped.append(category)
            continue
        for level in compared:
            column = f"{category}={level}"
            design[column] = (levels == level).astype(float)
            described[column] = (f"{category} {level}", f"{category} {level} (vs {reference})", f"vs {reference}")
    needed = max(MIN_RESPONSES, RESPONSES_PER_COEFFICIENT * (design.shape[1] + 1))
    if len(frame) < needed:
        raise _too_few(name, len(frame), needed, len(rows), coefficients=design.shape[1] + 1)
    model = sm.OLS(frame["score"].astype(float), sm.add_constant(design, has_constant="add")).fit(cov_type="HC3")
    if not np.isfinite(np.asarray(model.bse)).all():
        raise InvalidInput(
            f"The {name} responses of this period cannot separate the drivers' effects (some facts always occur "
            "together). Choose a longer period.",
            code="drivers_not_estimable",
        )
    intervals = model.conf_int(alpha=0.05)
    drivers = []
    for column in design.columns:
        effect = float(model.params[column])
        low, high = (float(v) for v in intervals.loc[column])
        label, phrase, unit = described[column]
        impact = abs(effect) * float(design[column].std())
        drivers.append(
            {
                "driver": label,
                "term": column,
                "unit": unit,
                "effect": round(effect, 4),
                "ci_low": round(low, 4),
                "ci_high": round(high, 4),
                "p_value": round(float(model.pvalues[column]), 4),
                "significant": bool(low > 0 or high < 0),
                "impact": round(impact, 4),
                "summary": _sentence(phrase, effect, low, high, name),
            }
        )
    drivers.sort(key=lambda d: -d["impact"])
    for rank, driver in enumerate(drivers, start=1):
        driver["rank"] = rank
    return {
        "from": start,
        "to": end,
        "target": target,
        "responses": len(rows),
        "responses_used": len(frame),
        "mean_score": round(float(frame["score"].mean()), 4),
        "r_squared": round(float(model.rsquared), 4),
        "method": "OLS (statsmodels), HC3 robust standard errors, 95% confidence intervals",
        "not_estimated": dropped,
        "drivers": drivers,
    }


def _sentence(phrase: str, effect: float, low: float, high: float, name: str) -> str:
    verb = "raises" if effect > 0 else "lowers"
    if not (low > 0 or high < 0):
        verb = "changes" if abs(effect) < 1e-9 else f"{verb} (not significantly)"
    first, second = sorted((abs(low), abs(high))) if low * high > 0 else (low, high)
    # Per-hour effects are small: two decimals would print "0.01, 95% CI 0.01–0.01".
    digits = 2 if abs(effect) >= 0.095 else 3
    return (
        f"{phrase[0].upper()}{phrase[1:]} {verb} {name} by {abs(effect):.{digits}f} points, "
        f"95% CI {first:.{digits}f}–{second:.{digits}f}"
    )


def _too_few(name: str, usable: int, needed: int, total: int, *, coefficients: int | None = None) -> InvalidInput:
    why = f" for {coefficients} coefficients" if coefficients else ""
    return InvalidInput(
        f"Too few {name} responses to analyse: {usable} usable (of {total} in the period, on solved tickets with "
        f"a first reply), {needed} needed{why}. Choose a longer period.",
        code="too_few_responses",
        details={"usable": usable, "needed": needed, "responses": total},
    )
