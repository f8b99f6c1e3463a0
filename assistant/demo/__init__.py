"""The demo: a retail / subscription help desk's tickets, its taxonomy, routing rules and credentials."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, insert
from sqlmodel import col, select

from assistant.auth.models import Role
from assistant.auth.service import authenticate, create_api_key
from assistant.db import session_scope, utcnow
from assistant.faq.service import LanguageOf
from assistant.indexing.service import TextEncoder
from assistant.routing.engine import RoutingEngine
from assistant.schedules.models import DEFAULT_DEPARTMENT, BusinessHours
from assistant.schedules.service import ScheduleBook
from assistant.training.service import LabelledTexts, read_labelled_csv, train_classifier
from classifiers import TicketClassifier, load_taxonomy
from knowledge import TextEmbedder

if TYPE_CHECKING:
    from assistant.demo.history import History
    from assistant.faq.search import PortalSearch

DEMO_DIR = Path(__file__).parent
DEMO_TICKETS = DEMO_DIR / "tickets.csv"
DEMO_TICKETS_GERMAN = DEMO_DIR / "tickets_de.csv"
DEMO_TAXONOMY = DEMO_DIR / "departments.json"
DEMO_RULES = DEMO_DIR / "routing_rules.json"
DEMO_FAQ = DEMO_DIR / "faq.json"
DEMO_CASES = DEMO_DIR / "resolved_cases.jsonl"
DEMO_PLAYBOOKS = DEMO_DIR / "playbooks.json"
DEMO_INBOX = DEMO_DIR / "inbox.json"
DEMO_SOURCE = "demo"
CREDENTIALS_FILE = "demo-credentials.json"


def demo_training_data() -> LabelledTexts:
    """The English tickets and their German half: one desk, customers writing in either language."""
    texts: list[str] = []
    labels: list[str] = []
    for path in (DEMO_TICKETS, DEMO_TICKETS_GERMAN):
        if path.is_file():
            data = read_labelled_csv(path, text_column="text", label_column="intent")
            texts += data.texts
            labels += data.labels
    return LabelledTexts(texts, labels, load_taxonomy(DEMO_TAXONOMY))


def ensure_demo_classifier(*, embedder: TextEmbedder, classifier_dir: Path) -> bool:
    """Train the demo classifier when none exists, or when the one there was trained over another embedding
    model (its features would mean nothing now); True when it trained one."""
    if TicketClassifier.exists(classifier_dir):
        try:
            if TicketClassifier.load(classifier_dir).model_name == embedder.model_name:
                return False
        except Exception:
            pass
    train_classifier(embedder=embedder, data=demo_training_data(), out_dir=classifier_dir, holdout=0.2)
    return True


def ensure_demo_credentials(*, engine: Engine, data_dir: Path) -> dict[str, str]:
    """A demo admin API key and a webhook secret for source ``demo``, made once and kept in the data dir.

    The key's plaintext is kept (owner-only file) so that every start can print it: a demo convenience.
    Production keys are made with ``assistant keys create`` and shown once.
    """
    path = data_dir / CREDENTIALS_FILE
    credentials: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    with session_scope(engine) as session:
        key = credentials.get("api_key")
        if not key or authenticate(session, key=key) is None:
            _, key = create_api_key(session, name="demo", role=Role.admin.value)
            credentials["api_key"] = key
    credentials.setdefault("webhook_source", DEMO_SOURCE)
    credentials.setdefault("webhook_secret", secrets.token_hex(24))
    data_dir.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".credentials-", dir=data_dir)  # created owner-only
    with os.fdopen(descriptor, "w") as handle:
        handle.write(json.dumps(credentials, indent=2) + "\n")
    os.replace(temporary, path)
    return credentials


def ensure_demo_knowledge(*, engine: Engine, encoder: TextEncoder, language_of: LanguageOf) -> bool:
    """Import the demo FAQ and resolved cases into an empty knowledge base; True when it did."""
    from assistant.cases.models import ResolvedCase
    from assistant.cases.service import import_cases, read_cases_file
    from assistant.faq.models import FaqEntry
    from assistant.faq.service import import_faq, read_faq_file

    with session_scope(engine) as session:
        if session.exec(select(FaqEntry.id).limit(1)).first() or session.exec(select(ResolvedCase.id).limit(1)).first():
            return False
        import_faq(session, read_faq_file(DEMO_FAQ), encoder=encoder, language_of=language_of)
        import_cases(session, read_cases_file(DEMO_CASES), encoder=encoder, language_of=language_of)
    return True


DEMO_DESK_SOURCE = "demo-desk"
DEMO_HISTORY_TICKETS = 3_000
DEMO_HISTORY_DAYS = 56
# The demo desk keeps office hours in Berlin, so business and calendar hours tell different stories.
DEMO_BUSINESS_HOURS = {
    "timezone": "Europe/Berlin",
    "hours": {day: ["08:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": [],
}


def ensure_demo_history(*, engine: Engine, schedules: ScheduleBook) -> int:
    """Eight weeks of the demo desk's interaction events up to now, when no events exist: the KPI dashboard has
    something to show on first start. Returns the number of events stored."""
    from assistant.demo.history import event_fields, generate
    from assistant.events.models import EventCreate, InteractionEvent
    from assistant.events.service import recompute_timings, store_events
    from assistant.schedules.service import put_schedule
    from assistant.tickets.models import Ticket

    with session_scope(engine) as session:
        if session.exec(select(InteractionEvent.id).limit(1)).first() is not None:
            return 0
        if not session.exec(select(BusinessHours.department).limit(1)).first():
            put_schedule(session, DEFAULT_DEPARTMENT, DEMO_BUSINESS_HOURS)
            schedules.invalidate()
        now = utcnow()
        start = (now - timedelta(days=DEMO_HISTORY_DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
        departments = sorted(set(load_taxonomy(DEMO_TAXONOMY).values()))
        history = generate(
            DEMO_HISTORY_TICKETS,
            seed=11,
            start=start,
            end=now,
            holidays=(),
            departments={name: 1.0 for name in departments},
        )
        events = [
            EventCreate(
                source=DEMO_DESK_SOURCE,
                event_id=event_id,
                ticket_id=ticket_id,
                kind=kind,
                occurred_at=datetime.fromisoformat(stamp),
                actor_type=actor_type,
                actor_id=actor_id,
                channel=channel,
                department=department,
            )
            for event_id, ticket_id, kind, stamp, actor_type, actor_id, channel, department in event_fields(history)
        ]
        # The tickets first: the timings take each ticket's language from its row.
        session.execute(insert(Ticket), history_tickets(history))
        stored, tickets = store_events(session, events, mask=lambda text: text, exact=False)
        recompute_timings(session, tickets, schedules=schedules)
        session.commit()
    return stored


# Within a department a few questions make most of the tickets, as at any desk.
INTENT_SKEW = 0.9
GERMAN_SHARE = 0.2


def history_tickets(history: History, *, seed: int = 3) -> list[dict[str, Any]]:
    """A ticket row for each of the history's tickets, its text one of the demo's example tickets of an intent of
    the department it ended in: the self-service gap report and the queue have the desk's past to work with.

    No routing decision is stored: these came routed from the desk's earlier system."""
    import numpy as np

    from assistant.demo.history import customer_name, ticket_name

    texts_of: dict[tuple[str, str], list[str]] = {}
    for path, language in ((DEMO_TICKETS, "en"), (DEMO_TICKETS_GERMAN, "de")):
        if path.is_file():
            data = read_labelled_csv(path, text_column="text", label_column="intent")
            for text, intent in zip(data.texts, data.labels, strict=True):
                texts_of.setdefault((intent, language), []).append(text)
    rng = np.random.default_rng(seed)
    intents_of: dict[str, list[str]] = {}
    for intent, department in sorted(load_taxonomy(DEMO_TAXONOMY).items()):
        intents_of.setdefault(department, []).append(intent)
    weights = {department: rng.lognormal(0.0, INTENT_SKEW, len(names)) for department, names in intents_of.items()}
    # Each intent's examples in a shuffled round before any repeats: fewer copies of one text than draws would give.
    unused: dict[tuple[str, str], list[str]] = {}

    def next_text(key: tuple[str, str]) -> str:
        if not unused.get(key):
            unused[key] = rng.permutation(texts_of[key]).tolist()
        return unused[key].pop()

    rows: list[dict[str, Any]] = []
    for number in np.unique(history.ticket).tolist():
        department = history.departments[int(history.ticket_department[number])]
        names = intents_of[department]
        intent = names[rng.choice(len(names), p=weights[department] / weights[department].sum())]
        language = "de" if rng.random() < GERMAN_SHARE and (intent, "de") in texts_of else "en"
        created = history.start + timedelta(seconds=float(history.ticket_created[number]))
        rows.append(
            {
                "source": DEMO_DESK_SOURCE,
                "external_id": ticket_name(number),
                "subject": "",
                "body": next_text((intent, language)),
                "channel": history.channels[int(history.ticket_channel[number])],
                "customer_ref": customer_name(int(history.ticket_customer[number])),
                "language": language,
                "department": department,
                "intent": intent,
                "needs_human_triage": False,
                "created_at": created,
                "received_at": created,
                "updated_at": created,
            }
        )
    return rows


DEMO_SURVEY_RESPONSE_RATE = 0.3


def ensure_demo_surveys(*, engine: Engine) -> int:
    """Survey answers to about a third of the demo desk's solved tickets, when none exist: the insights page has
    satisfaction to show and to explain. Scores follow the ticket's service (first contact resolution helps,
    transfers, reopens and waiting hurt) plus noise, as customers' answers do. Returns how many it stored."""
    import numpy as np

    from assistant.events.models import TicketTiming
    from assistant.surveys.models import SurveyCreate, SurveyResponse
    from assistant.surveys.service import ingest_surveys

    with session_scope(engine) as session:
        if session.exec(select(SurveyResponse.id).limit(1)).first() is not None:
            return 0
        solved = session.exec(
            select(TicketTiming)
            .where(TicketTiming.source == DEMO_DESK_SOURCE, TicketTiming.solved)
            .order_by(TicketTiming.id)  # type: ignore[arg-type]
        ).all()
        rng = np.random.default_rng(5)
        now = utcnow()
        surveys = []
        for timing in solved:
            if timing.last_solved_at is None or rng.random() >= DEMO_SURVEY_RESPONSE_RATE:
                continue
            answered = timing.last_solved_at + timedelta(hours=float(rng.lognormal(np.log(4.0), 1.0)))
            if answered > now:
                continue
            service = (
                0.8 * bool(timing.fcr)
                - 0.6 * (timing.transfers > 0)
                - 0.4 * (timing.reopens > 0)
                - 0.04 * (timing.frt_business_seconds or 0.0) / 3600
                - 0.01 * (timing.full_resolution_business_seconds or 0.0) / 3600
                + 0.15 * (timing.channel == "chat")
            )
            surveys.append(
                SurveyCreate(
                    source=DEMO_DESK_SOURCE,
                    response_id=f"survey-{timing.ticket_id}",
                    ticket_id=timing.ticket_id,
                    csat=int(np.clip(round(3.7 + service + rng.normal(0, 0.7)), 1, 5)),
                    ces=int(np.clip(round(5.0 + service + rng.normal(0, 0.9)), 1, 7)),
                    nps=int(np.clip(round(7.2 + 1.5 * service + rng.normal(0, 1.5)), 0, 10)),
                    responded_at=answered,
                )
            )
        ingest_surveys(session, surveys, mask=lambda text: text)
        session.commit()
    return len(surveys)


# Customers who write through the web form or by e-mail and looked in the portal first.
DEMO_SEARCHED_FIRST = 0.4
DEMO_PORTAL_RESULTS = 5


def deflection_odds(top_score: float | None) -> float:
    """For each customer who searched and still wrote, how many searched the same and were answered: few where
    the portal found nothing close, more the better its best entry fits."""
    chance = 0.1 if top_score is None else float(min(max(0.1 + 1.5 * (top_score - 0.4), 0.1), 0.75))
    return chance / (1.0 - chance)


def ensure_demo_portal_searches(*, engine: Engine, portal_search: PortalSearch) -> int:
    """The demo desk's portal searches, when none are logged: before a share of the history's web and e-mail
    tickets their customer searched the portal (and wrote anyway); beside them, customers with the same
    questions whom the portal answered and who never wrote. Each query is answered by the real portal search
    over the demo FAQ, and how many customers it kept depends on its best score. Returns how many it logged."""
    import numpy as np

    from assistant.demo.history import CUSTOMERS, customer_name
    from assistant.insights.deflection import PortalSearchRecord, stage_searches
    from assistant.insights.models import PortalSearchLog
    from assistant.tickets.models import Ticket

    with session_scope(engine) as session:
        if session.exec(select(PortalSearchLog.id).limit(1)).first() is not None:
            return 0
        tickets = session.exec(
            select(Ticket.customer_ref, Ticket.body, Ticket.created_at)
            .where(Ticket.source == DEMO_DESK_SOURCE, col(Ticket.channel).in_(("web", "email")))
            .order_by(col(Ticket.id))
        ).all()
    rng = np.random.default_rng(17)
    searched = [ticket for ticket in tickets if rng.random() < DEMO_SEARCHED_FIRST]
    queries = sorted({body for _, body, _ in searched})
    answers = dict(zip(queries, portal_search.search_many(queries, DEMO_PORTAL_RESULTS), strict=True))
    now, earliest = utcnow(), min((created for _, _, created in tickets), default=utcnow())
    records: list[PortalSearchRecord] = []
    answered = 0
    for customer, query, created in searched:
        results = answers[query].results
        best = results[0] if results else None
        before = created - timedelta(minutes=float(rng.lognormal(np.log(20), 1.0)))
        search = PortalSearchRecord(query, customer, len(results), best and best.score, best and best.id, before)
        records.append(search)
        for _ in range(rng.poisson(deflection_odds(search.top_score))):
            at = created + timedelta(days=float(rng.uniform(-3, 3)))
            if earliest <= at <= now:
                records.append(replace(search, customer_ref=customer_name(CUSTOMERS + answered), searched_at=at))
                answered += 1
    if not records:  # a data dir from before the demo's history had texts
        return 0
    with session_scope(engine) as session:
        stage_searches(session, records)
        session.commit()
    return len(records)


def ensure_demo_inbox(*, engine: Engine, routing: RoutingEngine, schedules: ScheduleBook) -> int:
    """A dozen new tickets waiting in the agent desk's queue, routed as if the demo webhook had delivered them,
    when it has delivered none yet. Returns how many it added."""
    from assistant.tickets.models import Ticket, TicketCreate
    from assistant.tickets.service import ingest_ticket

    with session_scope(engine) as session:
        if session.exec(select(Ticket.id).where(Ticket.source == DEMO_SOURCE).limit(1)).first() is not None:
            return 0
        now = utcnow()
        inbox = json.loads(DEMO_INBOX.read_text(encoding="utf-8"))
        for item in sorted(inbox, key=lambda entry: -entry["minutes_ago"]):
            payload = TicketCreate(
                source=DEMO_SOURCE,
                event_id="created",
                created_at=now - timedelta(minutes=item["minutes_ago"]),
                **{name: value for name, value in item.items() if name != "minutes_ago"},
            )
            ingest_ticket(session, engine=routing, payload=payload, schedules=schedules)
    return len(inbox)
