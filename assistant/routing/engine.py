"""The routing engine: rules first, then the classifier over the shared micro-batching encoder."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import ServiceUnavailable
from assistant.routing.rules import RoutingRule, first_match
from assistant.tickets.models import DecisionKind, DecisionRead
from classifiers import TicketClassifier
from classifiers.language import LanguageDetector
from classifiers.ticket_classifier import CURRENT_POINTER, Prediction
from classifiers.urgency import urgency_of
from knowledge import EncoderWorker
from knowledge.batching import DEFAULT_TIMEOUT_SECONDS

log = logging.getLogger("assistant")

TRIAGE_DEPARTMENT = "triage"
RULE_REASON = "rule"
# How often a process looks for a newer classifier in the data directory.
RELOAD_CHECK_SECONDS = 5.0


def ticket_text(subject: str, body: str) -> str:
    subject, body = subject.strip(), body.strip()
    return f"{subject}\n{body}" if subject and body else subject or body


class ClassifierStore:
    """The newest classifier trained into a directory, reloaded when ``train`` writes a newer one."""

    def __init__(self, root: Path, *, model_name: str | None = None) -> None:
        self.root = root
        # The embedding model the service encodes with: a classifier trained over another one is refused.
        self.model_name = model_name
        self._classifier: TicketClassifier | None = None
        self._loaded_version: str | None = None
        self._failed_version: str | None = None
        self._failure: str | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def current(self) -> TicketClassifier:
        now = time.monotonic()
        if self._classifier is None or now - self._checked_at > RELOAD_CHECK_SECONDS:
            self._checked_at = now
            self._reload_if_newer()
        if self._classifier is None:
            raise ServiceUnavailable(f"No classifier to serve: {self.problem}.", code="no_classifier")
        return self._classifier

    @property
    def loaded(self) -> bool:
        return self._classifier is not None

    @property
    def problem(self) -> str:
        """Why no classifier is served (or why the newest one is not)."""
        return self._failure or f"no classifier has been trained into {self.root}; run `assistant train` first"

    def _reload_if_newer(self) -> None:
        pointer = self.root / CURRENT_POINTER
        try:
            version = pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as exc:
            # A damaged pointer must not take routing down: keep serving the classifier already loaded.
            self._failure = f"{pointer} cannot be read ({exc}); run `assistant train` again"
            return
        if version in (self._loaded_version, self._failed_version):
            return
        with self._lock:
            if version in (self._loaded_version, self._failed_version):
                return
            try:
                classifier = TicketClassifier.load(self.root / version)
                if self.model_name is not None and classifier.model_name != self.model_name:
                    raise ValueError(
                        f"it was trained over {classifier.model_name}, and the service embeds with "
                        f"{self.model_name}: retrain it (`assistant train`) with the same backend"
                    )
                self._classifier = classifier
            except Exception as exc:
                # A broken or half-copied version must not take routing down: keep serving the last good one.
                log.exception("could not load classifier %s; still serving %s", version, self._loaded_version)
                self._failed_version = version
                self._failure = f"classifier {version} could not be loaded: {exc}"
                return
            self._loaded_version = version


class RoutingEngine:
    def __init__(
        self,
        *,
        classifiers: ClassifierStore,
        encoder: EncoderWorker,
        language: LanguageDetector,
        rules: Sequence[RoutingRule],
        confidence_threshold: float,
        out_of_scope_threshold: float | None,
        model_text_chars: int,
    ) -> None:
        self.classifiers = classifiers
        self.encoder = encoder
        self.language = language
        self.rules = list(rules)
        self.confidence_threshold = confidence_threshold
        self.out_of_scope_threshold = out_of_scope_threshold
        self.model_text_chars = model_text_chars

    def decide(
        self,
        *,
        subject: str,
        body: str,
        channel: str | None = None,
        customer_tier: str | None = None,
        source: str | None = None,
    ) -> DecisionRead:
        """Blocking: for handler threads."""
        pending, finish = self._start(subject, body, channel, customer_tier, source)
        return finish(pending.result(DEFAULT_TIMEOUT_SECONDS)[0])

    async def decide_async(
        self,
        *,
        subject: str,
        body: str,
        channel: str | None = None,
        customer_tier: str | None = None,
        source: str | None = None,
    ) -> DecisionRead:
        """On the event loop: no thread waits while the model works."""
        pending, finish = self._start(subject, body, channel, customer_tier, source)
        async with asyncio.timeout(DEFAULT_TIMEOUT_SECONDS):
            return finish((await asyncio.wrap_future(pending))[0])

    def _start(
        self, subject: str, body: str, channel: str | None, customer_tier: str | None, source: str | None
    ) -> tuple[Future[list[tuple[Prediction, str]]], Callable[[tuple[Prediction, str]], DecisionRead]]:
        """Queue the text for the model and, while it works, what needs only the text."""
        text = ticket_text(subject, body)
        self.classifiers.current()  # fail fast, before queueing, when there is no classifier
        pending = self.encoder.submit([text[: self.model_text_chars]], then=self.classify_batch)
        rule = first_match(self.rules, text=text, channel=channel, customer_tier=customer_tier, source=source)
        facts = {"language": self.language.detect(text), "urgency": urgency_of(text)}

        def finish(predicted: tuple[Prediction, str]) -> DecisionRead:
            prediction, model_version = predicted
            return self._decision(prediction, rule, model_version, facts)

        return pending, finish

    def classify_batch(self, texts: list[str], vectors: np.ndarray) -> list[tuple[Prediction, str]]:
        """Runs on the encoder thread for every ticket in the batch at once."""
        classifier = self.classifiers.current()
        predictions = classifier.predict(
            texts,
            vectors,
            confidence_threshold=self.confidence_threshold,
            out_of_scope_threshold=self.out_of_scope_threshold,
        )
        return [(prediction, classifier.version) for prediction in predictions]

    def _decision(
        self, prediction: Prediction, rule: RoutingRule | None, model_version: str, facts: dict[str, str | None]
    ) -> DecisionRead:
        model_choice = {
            "department": prediction.department,
            "intent": prediction.intent,
            "confidence": prediction.confidence,
        }
        alternatives = [
            {"department": a.department, "intent": a.intent, "confidence": a.confidence}
            for a in prediction.alternatives
        ]
        common = {
            "intent": prediction.intent,
            "intent_confidence": prediction.intent_confidence,
            **facts,
            "model_version": model_version,
        }
        if prediction.needs_human_triage:
            # The model's best guess stays visible to the triage agent as the first alternative.
            decision = DecisionRead(
                department=TRIAGE_DEPARTMENT,
                confidence=prediction.confidence,
                alternatives=[model_choice, *alternatives],
                needs_human_triage=True,
                triage_reason=prediction.triage_reason,
                **common,
            )
        else:
            decision = DecisionRead(
                department=prediction.department,
                confidence=prediction.confidence,
                alternatives=alternatives,
                **common,
            )
        return decision if rule is None else with_rule(decision, rule)


def model_choice_first(decision: DecisionRead) -> list[dict[str, Any]]:
    """The decision's alternatives with the model's own choice first, for a decision that overrides the model's: a
    triage or rule decision lists it first already, the model's own decision is it."""
    if decision.needs_human_triage or decision.kind == DecisionKind.rule.value:
        return decision.alternatives
    model_choice = {"department": decision.department, "intent": decision.intent, "confidence": decision.confidence}
    return [model_choice, *decision.alternatives]


def with_rule(decision: DecisionRead, rule: RoutingRule) -> DecisionRead:
    """The decision as ``rule`` makes it, the model's choice kept as the first alternative. ``decision`` may be
    the model's or another rule's: the ticket writer applies a rule that only the stored ticket's tier or
    channel makes fire, after the model has decided. Where the model abstained, the decision names no intent: the
    rule settles the department, not what the customer asks, and the guess stays visible as the first alternative
    (a ticket's intent goes on to its resolved case, and to the playbook agents are shown)."""
    abstained = decision.needs_human_triage and decision.kind != DecisionKind.rule.value
    return decision.model_copy(
        update={
            "intent": None if abstained else decision.intent,
            "intent_confidence": None if abstained else decision.intent_confidence,
            "department": rule.department,
            "confidence": 1.0,
            "alternatives": model_choice_first(decision),
            "needs_human_triage": rule.needs_human_triage,
            "triage_reason": RULE_REASON if rule.needs_human_triage else None,
            "rule": rule.name,
            "kind": DecisionKind.rule.value,
        }
    )
