"""Suggestions for an agent: similar resolved cases, FAQ entries and next-best actions, with evidence."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from assistant.assist.models import (
    ActionSuggestion,
    CaseSuggestion,
    FaqSuggestion,
    FeedbackCreate,
    FeedbackRead,
    QueryInfo,
    SuggestionFeedback,
    SuggestionKind,
    SuggestionRequest,
    Suggestions,
    Verdict,
)
from assistant.cases.models import CaseEvidence, ResolvedCase, clean_actions
from assistant.cases.service import cases_by_id
from assistant.db import MAX_ROW_ID, session_scope, write_lock
from assistant.errors import InvalidInput, NotFound, ServiceUnavailable
from assistant.faq.models import FaqEntry
from assistant.faq.service import excerpt
from assistant.indexing.models import Collection
from assistant.indexing.service import KnowledgeIndexes
from assistant.routing.engine import RoutingEngine, ticket_text
from assistant.tickets.models import Ticket
from classifiers.ticket_classifier import Prediction
from knowledge.batching import DEFAULT_TIMEOUT_SECONDS
from knowledge.ranking import Neighbour, feedback_factor, rank_actions
from knowledge.vector_index import Hit

log = logging.getLogger("assistant")

# Nearest cases fetched before re-ranking; the answer shows the best few.
CASE_CANDIDATES = 50
# Neighbours whose actions are counted for next-best actions.
ACTION_NEIGHBOURS = 10
# Below this cosine a case or FAQ entry is unrelated enough to mislead more than it helps.
MIN_CASE_SCORE = 0.25
MIN_FAQ_SCORE = 0.25
# How much a case whose intent the classifier expects for this text moves up (see docs/BENCHMARKS.md).
INTENT_AGREEMENT_WEIGHT = 0.3
FEEDBACK_REFRESH_SECONDS = 5.0


def load_playbooks(path: Path | None) -> dict[str, list[str]]:
    """Intent → ordered actions (the shape of ABCD's ``kb.json``)."""
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read playbooks from {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: playbooks must be an object of intent → list of actions")
    playbooks = {}
    for intent, actions in data.items():
        if not isinstance(actions, list):
            raise ValueError(f"{path}: the playbook for {intent!r} must be a list of action names")
        playbooks[str(intent)] = clean_actions([str(a) for a in actions])
    return playbooks


Counts = tuple[int, int]  # accepted, rejected
_NONE: Mapping[str, Counts] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Verdicts:
    """Agents' verdicts as of one moment, totalled once when read: a request looks its suggestions up instead
    of walking every verdict ever given (that took 14.5 ms a request at 15k verdict groups; this, 0.008 ms)."""

    # kind → suggestion id or action name → counts, whatever intent they were given for
    by_kind: Mapping[str, Mapping[str, Counts]]
    # intent (None: given without one) → action → counts
    actions_by_intent: Mapping[str | None, Mapping[str, Counts]]

    @classmethod
    def of(cls, rows: Sequence[tuple[str, str, str | None, str, int]]) -> Verdicts:
        """From (kind, target, intent, verdict, count) rows."""
        by_kind: dict[str, dict[str, list[int]]] = {}
        actions_by_intent: dict[str | None, dict[str, list[int]]] = {}
        for kind, target, intent, verdict, count in rows:
            column = 0 if verdict == Verdict.accepted.value else 1
            by_kind.setdefault(kind, {}).setdefault(target, [0, 0])[column] += int(count)
            if kind == SuggestionKind.action.value:
                actions_by_intent.setdefault(intent, {}).setdefault(target, [0, 0])[column] += int(count)
        return cls(
            by_kind={kind: _read_only(totals) for kind, totals in by_kind.items()},
            actions_by_intent={intent: _read_only(totals) for intent, totals in actions_by_intent.items()},
        )

    def actions(self, intent: str | None) -> Mapping[str, Counts]:
        """Verdicts on actions given for this intent, plus those given without an intent."""
        general = self.actions_by_intent.get(None, _NONE)
        if intent is None:
            return general
        merged = dict(general)
        for action, (accepted, rejected) in self.actions_by_intent.get(intent, _NONE).items():
            before_accepted, before_rejected = merged.get(action, (0, 0))
            merged[action] = (before_accepted + accepted, before_rejected + rejected)
        return merged

    def items(self, kind: SuggestionKind) -> Mapping[str, Counts]:
        """Verdicts on each suggested case or FAQ entry (by id), whatever intent they were given for."""
        return self.by_kind.get(kind.value, _NONE)


def _read_only(totals: dict[str, list[int]]) -> Mapping[str, Counts]:
    # Shared by every request until the next refresh.
    return MappingProxyType({target: (accepted, rejected) for target, (accepted, rejected) in totals.items()})


class FeedbackStats:
    """Agents' verdicts counted per suggestion, read from the database at most every few seconds, and at once
    after a verdict is given here."""

    def __init__(self, engine: Engine, *, refresh_seconds: float = FEEDBACK_REFRESH_SECONDS) -> None:
        self.engine = engine
        self.refresh_seconds = refresh_seconds
        self._verdicts = Verdicts.of([])
        self._loaded_at = -float("inf")
        self._stale = True
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        # A flag, not a reset of the load time: a read already under way would stamp its time after this
        # and hide the new verdict until the next refresh.
        self._stale = True

    def current(self) -> Verdicts:
        if self._stale or time.monotonic() - self._loaded_at > self.refresh_seconds:
            with self._lock:
                if self._stale or time.monotonic() - self._loaded_at > self.refresh_seconds:
                    self._stale = False  # before the read: a verdict given during it marks it stale again
                    started = time.monotonic()
                    self._verdicts = self._load()
                    self._loaded_at = started
        return self._verdicts

    def _load(self) -> Verdicts:
        with session_scope(self.engine) as session:
            rows = session.exec(
                select(
                    SuggestionFeedback.kind,
                    SuggestionFeedback.target,
                    SuggestionFeedback.intent,
                    SuggestionFeedback.verdict,
                    func.count(),
                ).group_by(
                    SuggestionFeedback.kind,
                    SuggestionFeedback.target,
                    SuggestionFeedback.intent,
                    SuggestionFeedback.verdict,
                )
            ).all()
        return Verdicts.of(rows)


@dataclass(frozen=True, slots=True)
class Analysis:
    """What one encoder pass tells about a text: its vector and, when a classifier is loaded, its intent."""

    vector: np.ndarray
    prediction: Prediction | None
    intent_probabilities: dict[str, float]


class AssistEngine:
    def __init__(
        self,
        *,
        indexes: KnowledgeIndexes,
        routing: RoutingEngine,
        playbooks: dict[str, list[str]],
        feedback: FeedbackStats,
    ) -> None:
        self.indexes = indexes
        self.routing = routing
        self.playbooks = playbooks
        self.feedback = feedback

    def submit_analysis(self, text: str) -> Future[list[Analysis]]:
        """The text's analysis to come (a batch of one), while the caller does what needs no model."""
        return self.routing.encoder.submit([text[: self.routing.model_text_chars]], then=self.analyse_batch)

    def analyse_batch(self, texts: list[str], vectors: np.ndarray) -> list[Analysis]:
        """Runs on the encoder thread, once for every text in the batch."""
        try:
            classifier = self.routing.classifiers.current()
        except ServiceUnavailable:
            return [Analysis(vector, None, {}) for vector in vectors]
        predictions, probabilities = classifier.predict_with_probabilities(
            texts,
            vectors,
            confidence_threshold=self.routing.confidence_threshold,
            out_of_scope_threshold=self.routing.out_of_scope_threshold,
        )
        labels = classifier.labels
        analyses = []
        for vector, prediction, row in zip(vectors, predictions, probabilities, strict=True):
            # Only the likeliest intents matter for re-ranking; the rest round to nothing.
            top = np.argsort(-row)[:10]
            analyses.append(Analysis(vector, prediction, {labels[i]: float(row[i]) for i in top}))
        return analyses

    def suggest(self, session: Session, request: SuggestionRequest) -> Suggestions:
        text = request.text or ""
        if request.ticket_id is not None:
            ticket = session.get(Ticket, request.ticket_id)
            if ticket is None:
                raise NotFound(f"No ticket with id {request.ticket_id}.", code="ticket_not_found")
            text = ticket_text(ticket.subject, ticket.body)
        session.rollback()  # no connection held while the model works
        pending = self.submit_analysis(text)
        language = self.routing.language.detect(text)
        return self.suggest_for(session, pending.result(DEFAULT_TIMEOUT_SECONDS)[0], request, language=language)

    def suggest_for(
        self, session: Session, analysis: Analysis, request: SuggestionRequest, *, language: str | None
    ) -> Suggestions:
        prediction = analysis.prediction
        # Each search is asked for the same revision: a case and an FAQ entry come from one moment.
        revision = self.indexes.revision
        # And every verdict from one moment too.
        verdicts = self.feedback.current()
        similar = (
            self._similar_cases(session, analysis, verdicts, asked_for=request.ticket_id)
            if (request.cases or request.actions)
            else []
        )
        cases = [
            CaseSuggestion(
                id=hit.id,
                score=round(hit.score, 4),
                summary=row.summary,
                resolution=row.resolution,
                actions=list(row.actions),
                intent=row.intent,
                first_contact=row.first_contact,
            )
            # Only those shown or counted for actions: the other candidates were fetched for the re-ranking.
            for hit, row in similar[: max(request.cases, ACTION_NEIGHBOURS)]
        ]
        intent = prediction.intent if prediction is not None else None
        playbook = self.playbooks.get(intent or "")
        neighbours = [Neighbour(c.id, c.score, c.actions, c.first_contact) for c in cases[:ACTION_NEIGHBOURS]]
        actions = rank_actions(
            neighbours,
            playbook=playbook,
            playbook_name=intent if playbook else None,
            playbook_confidence=(prediction.intent_confidence or 0.0) if prediction is not None else 0.0,
            feedback=verdicts.actions(intent),
            limit=request.actions,
        )
        return Suggestions(
            ticket_id=request.ticket_id,
            query=QueryInfo(
                intent=intent,
                department=prediction.department if prediction is not None else None,
                confidence=round(prediction.confidence, 4) if prediction is not None else None,
                language=language,
            ),
            cases=cases[: request.cases],
            faq=self._faq(analysis, request.faq, verdicts),
            actions=[
                ActionSuggestion(
                    action=a.action,
                    score=round(a.score, 4),
                    case_ids=a.case_ids,
                    playbook=a.playbook,
                    accepted=a.accepted,
                    rejected=a.rejected,
                )
                for a in actions
            ],
            index_revision=revision,
        )

    def _similar_cases(
        self, session: Session, analysis: Analysis, verdicts: Verdicts, *, asked_for: int | None
    ) -> list[tuple[Hit, CaseEvidence]]:
        """Nearest cases, those of the intent the classifier expects moved up, agents' verdicts applied. Not the case
        of the ticket ``asked_for`` itself (solved before, reopened now): it is the same text, not a similar one, and
        would lead every list and the next-best actions."""
        hits = self.indexes.search(Collection.cases.value, analysis.vector, CASE_CANDIDATES, min_score=MIN_CASE_SCORE)[
            0
        ]
        rows = cases_by_id(session, [hit.id for hit in hits])
        case_verdicts = verdicts.items(SuggestionKind.case)
        rescored = []
        for hit in hits:
            row = rows.get(hit.id)
            if row is None or (asked_for is not None and row.ticket_id == asked_for):  # or deleted since indexed
                continue
            agreement = analysis.intent_probabilities.get(row.intent or "", 0.0)
            score = (hit.score + INTENT_AGREEMENT_WEIGHT * agreement) * feedback_factor(
                *case_verdicts.get(str(hit.id), (0, 0))
            )
            rescored.append((Hit(hit.id, score), row))
        return sorted(rescored, key=lambda pair: -pair[0].score)

    def _faq(self, analysis: Analysis, k: int, verdicts: Verdicts) -> list[FaqSuggestion]:
        if k == 0:
            return []
        faq_verdicts = verdicts.items(SuggestionKind.faq)
        hits = self.indexes.search(Collection.faq.value, analysis.vector, k * 3, min_score=MIN_FAQ_SCORE)[0]
        rescored = sorted(
            (Hit(h.id, h.score * feedback_factor(*faq_verdicts.get(str(h.id), (0, 0)))) for h in hits),
            key=lambda h: -h.score,
        )
        found = []
        for hit in rescored[:k]:
            document = self.indexes.document(Collection.faq.value, hit.id)
            if document is not None:
                found.append(
                    FaqSuggestion(
                        id=hit.id,
                        score=round(hit.score, 4),
                        question=document.question,
                        answer_excerpt=excerpt(document.answer),
                        language=document.language,
                    )
                )
        return found


def record_feedback(session: Session, feedback: FeedbackCreate, *, stats: FeedbackStats) -> FeedbackRead:
    target = feedback.target.strip()
    if feedback.kind in (SuggestionKind.case, SuggestionKind.faq):
        if not (target.isascii() and target.isdigit()):
            raise InvalidInput(f"A {feedback.kind.value} suggestion is named by its numeric id.", code="invalid_target")
        # A verdict on nothing would count for no suggestion and only hide a client's bug.
        table = ResolvedCase if feedback.kind == SuggestionKind.case else FaqEntry
        if int(target) > MAX_ROW_ID or session.get(table, int(target)) is None:
            noun = "resolved case" if feedback.kind == SuggestionKind.case else "FAQ entry"
            raise NotFound(f"No {noun} with id {target}.", code=f"{feedback.kind.value}_not_found")
        target = str(int(target))
    if feedback.kind == SuggestionKind.action:
        try:
            target = clean_actions([target])[0]
        except ValueError as exc:
            raise InvalidInput(str(exc), code="invalid_target") from None
    if feedback.ticket_id is not None and session.get(Ticket, feedback.ticket_id) is None:
        raise NotFound(f"No ticket with id {feedback.ticket_id}.", code="ticket_not_found")
    row = SuggestionFeedback(
        kind=feedback.kind.value,
        target=target,
        intent=feedback.intent,
        verdict=feedback.verdict.value,
        ticket_id=feedback.ticket_id,
        agent_id=feedback.agent_id,
    )
    with write_lock(session):
        session.add(row)
        session.commit()
    stats.invalidate()
    return FeedbackRead.model_validate(row, from_attributes=True)
