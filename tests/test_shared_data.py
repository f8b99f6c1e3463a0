"""The classifier on a real data set (BANKING77 from ../shared/data; skipped where absent)."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from assistant.training.service import read_labelled_csv
from classifiers import TicketClassifier, evaluate, load_taxonomy
from knowledge import TextEmbedder
from tests.support import shared_data

INTENTS = 25
PER_INTENT = 50


def test_banking77_subset_routes_and_knows_what_is_out_of_scope(embedder: TextEmbedder) -> None:
    data = read_labelled_csv(shared_data("banking77", "train.csv"), text_column="text", label_column="category")
    taxonomy = load_taxonomy(shared_data("banking77", "departments.json"))
    chosen = sorted(set(data.labels))[:: 77 // INTENTS][:INTENTS]
    rows: list[int] = []
    for intent in chosen:
        rows += [i for i, label in enumerate(data.labels) if label == intent][:PER_INTENT]
    texts = [data.texts[i] for i in rows]
    labels = [data.labels[i] for i in rows]
    vectors = embedder.encode(texts)
    train, test = train_test_split(np.arange(len(rows)), test_size=0.2, stratify=labels, random_state=0)
    classifier = TicketClassifier(model_name=embedder.model_name).fit(
        [texts[i] for i in train], [labels[i] for i in train], vectors[train], taxonomy=taxonomy
    )
    report = evaluate(classifier, [texts[i] for i in test], [labels[i] for i in test], vectors[test])
    assert report.accuracy > 0.88, report.summary()
    assert report.department_accuracy > 0.92, report.summary()

    held_out = classifier.predict([texts[i] for i in test], vectors[test])
    false_out_of_scope = sum(p.triage_reason == "out_of_scope" for p in held_out) / len(held_out)
    assert false_out_of_scope < 0.05

    foreign = [
        "what's the weather tomorrow",
        "recommend me a good pizza place nearby",
        "how many goals did Messi score last season?",
        "my washing machine is leaking water",
    ]
    flagged = [p.triage_reason == "out_of_scope" for p in classifier.predict(foreign, embedder.encode(foreign))]
    assert all(flagged), list(zip(foreign, flagged, strict=True))
