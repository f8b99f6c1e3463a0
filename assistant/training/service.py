"""Training and evaluating the served classifier from CSV files or agents' corrections."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from assistant.files import CsvFile
from classifiers import EvaluationReport, TicketClassifier, evaluate
from knowledge import TextEmbedder

Progress = Callable[[str], None]


@dataclass(frozen=True)
class LabelledTexts:
    texts: list[str]
    labels: list[str]
    taxonomy: dict[str, str] | None


def read_labelled_csv(
    path: str | Path,
    *,
    text_column: str = "text",
    label_column: str = "label",
    department_column: str | None = None,
) -> LabelledTexts:
    """Rows with empty text or label are skipped; ``department_column`` yields an intent → department map."""
    texts: list[str] = []
    labels: list[str] = []
    taxonomy: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        table = CsvFile(handle, str(path))
        columns = set(table.header)
        for needed in filter(None, (text_column, label_column, department_column)):
            if needed not in columns:
                raise ValueError(f"{path}: no column {needed!r}; columns are {sorted(columns)}")
        for row in table:
            text, label = (row[text_column] or "").strip(), (row[label_column] or "").strip()
            if not text or not label:
                continue
            texts.append(text)
            labels.append(label)
            if department_column:
                department = (row[department_column] or "").strip()
                if not department:
                    raise ValueError(f"{path}: label {label!r} has a row with no {department_column!r}")
                if taxonomy.setdefault(label, department) != department:
                    raise ValueError(f"{path}: label {label!r} appears under two departments")
    if not texts:
        raise ValueError(f"{path}: no labelled rows")
    return LabelledTexts(texts, labels, taxonomy or None)


def encode_texts(embedder: TextEmbedder, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
    return embedder.encode(texts, batch_size=64, show_progress=show_progress)


def train_classifier(
    *,
    embedder: TextEmbedder,
    data: LabelledTexts,
    out_dir: Path,
    holdout: float = 0.1,
    seed: int = 0,
    show_progress: bool = False,
    progress: Progress = lambda _: None,
) -> tuple[TicketClassifier, EvaluationReport | None]:
    """Fit on all rows and save; first, when ``holdout`` > 0, measure on a stratified held-out share.

    The held-out figures go into meta.json as the model's training metrics.
    """
    progress(f"encoding {len(data.texts)} texts with {embedder.model_name}")
    vectors = encode_texts(embedder, data.texts, show_progress=show_progress)
    report = None
    counts = Counter(data.labels)
    if holdout > 0 and min(counts.values()) >= 2 and len(data.texts) * holdout >= len(counts):
        progress(f"measuring on a stratified {holdout:.0%} held out")
        train, test = train_test_split(
            np.arange(len(data.texts)), test_size=holdout, stratify=data.labels, random_state=seed
        )
        probe = TicketClassifier(model_name=embedder.model_name).fit(
            [data.texts[i] for i in train], [data.labels[i] for i in train], vectors[train], taxonomy=data.taxonomy
        )
        report = evaluate(probe, [data.texts[i] for i in test], [data.labels[i] for i in test], vectors[test])
    progress(f"fitting on all {len(data.texts)} rows ({len(counts)} labels)")
    classifier = TicketClassifier(model_name=embedder.model_name).fit(
        data.texts, data.labels, vectors, taxonomy=data.taxonomy, random_state=seed
    )
    classifier.record_metrics(
        {"holdout": holdout, **report.summary()} if report else {"holdout": 0, "note": "no held-out measurement"}
    )
    path = classifier.save(out_dir)
    progress(f"saved classifier {classifier.version} to {path}")
    return classifier, report


def evaluate_classifier(
    *, embedder: TextEmbedder, classifier: TicketClassifier, data: LabelledTexts, show_progress: bool = False
) -> EvaluationReport:
    unknown = sorted(set(data.labels) - set(classifier.labels))
    if unknown:
        raise ValueError(f"labels the classifier was not trained on: {', '.join(unknown[:10])}")
    vectors = encode_texts(embedder, data.texts, show_progress=show_progress)
    return evaluate(classifier, data.texts, data.labels, vectors)
