"""Evaluation of a fitted TicketClassifier on labelled texts."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

if TYPE_CHECKING:
    from classifiers.ticket_classifier import TicketClassifier

COVERAGE_POINTS = (1.0, 0.95, 0.9, 0.8, 0.7, 0.5)


@dataclass(frozen=True)
class ClassReport:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class CoveragePoint:
    coverage: float
    accuracy: float
    threshold: float  # confidence at or above which this share of tickets is answered


@dataclass
class EvaluationReport:
    rows: int
    accuracy: float
    macro_f1: float
    department_accuracy: float
    expected_calibration_error: float
    coverage_curve: list[CoveragePoint]
    per_class: list[ClassReport] = field(default_factory=list)

    def accuracy_at_coverage(self, coverage: float) -> float:
        for point in self.coverage_curve:
            if abs(point.coverage - coverage) < 1e-9:
                return point.accuracy
        raise KeyError(coverage)

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "department_accuracy": self.department_accuracy,
            "accuracy_at_90_coverage": self.accuracy_at_coverage(0.9),
            "expected_calibration_error": self.expected_calibration_error,
        }

    def format_table(self, *, per_class: bool = True) -> str:
        lines = [
            f"rows                      {self.rows}",
            f"accuracy                  {self.accuracy:.4f}",
            f"macro F1                  {self.macro_f1:.4f}",
            f"department accuracy       {self.department_accuracy:.4f}",
            f"calibration error (ECE)   {self.expected_calibration_error:.4f}",
            "",
            "coverage  accuracy  confidence >=",
        ]
        lines += [f"{p.coverage:8.0%}  {p.accuracy:8.4f}  {p.threshold:.3f}" for p in self.coverage_curve]
        if per_class:
            width = max(len(c.label) for c in self.per_class)
            lines += ["", f"{'label':{width}}  precision  recall  f1      support"]
            lines += [
                f"{c.label:{width}}  {c.precision:9.3f}  {c.recall:6.3f}  {c.f1:6.3f}  {c.support:7d}"
                for c in self.per_class
            ]
        return "\n".join(lines)


def evaluate(
    classifier: TicketClassifier,
    texts: Sequence[str],
    labels: Sequence[str],
    embeddings: np.ndarray,
) -> EvaluationReport:
    """Accuracy, macro-F1, per-class precision/recall, department accuracy and accuracy vs. coverage."""
    truth = np.asarray(labels)
    probabilities = classifier.predict_proba(texts, embeddings)
    label_array = np.asarray(classifier.labels)
    predicted = label_array[probabilities.argmax(axis=1)]
    confidence = probabilities.max(axis=1)

    department_probabilities = classifier.department_probabilities(probabilities)
    departments = np.asarray(classifier.departments)
    predicted_departments = departments[department_probabilities.argmax(axis=1)]
    true_departments = np.asarray([classifier.department_of(label) for label in truth])

    names = sorted(set(truth) | set(predicted))
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=names, zero_division=0)
    return EvaluationReport(
        rows=len(truth),
        accuracy=round(float(accuracy_score(truth, predicted)), 4),
        macro_f1=round(float(f1_score(truth, predicted, average="macro", zero_division=0)), 4),
        department_accuracy=round(float(np.mean(predicted_departments == true_departments)), 4),
        expected_calibration_error=round(_expected_calibration_error(confidence, predicted == truth), 4),
        coverage_curve=coverage_curve(confidence, predicted == truth),
        per_class=[
            ClassReport(str(name), round(float(p), 4), round(float(r), 4), round(float(f), 4), int(s))
            for name, p, r, f, s in zip(names, precision, recall, f1, support, strict=True)
        ],
    )


def coverage_curve(
    confidence: np.ndarray, correct: np.ndarray, points: Sequence[float] = COVERAGE_POINTS
) -> list[CoveragePoint]:
    """Accuracy on the most confident share of tickets, as the abstention threshold rises."""
    order = np.argsort(-confidence, kind="stable")
    ranked_correct = correct[order]
    ranked_confidence = confidence[order]
    curve = []
    for coverage in points:
        kept = max(1, round(coverage * len(order)))
        curve.append(
            CoveragePoint(
                coverage=coverage,
                accuracy=round(float(ranked_correct[:kept].mean()), 4),
                threshold=round(float(ranked_confidence[kept - 1]), 4),
            )
        )
    return curve


def _expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in itertools.pairwise(edges):
        mask = (confidence > low) & (confidence <= high)
        if mask.any():
            error += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(error)
