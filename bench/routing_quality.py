"""Routing quality on real data: stratified 80/20 splits of BANKING77 and Bitext.

BANKING77: intents, departments through ../shared/data/banking77/departments.json.
Bitext: intents, with each row's `category` as its department.
Reports intent accuracy, macro-F1, department accuracy (a department's probability is the sum of its
intents'), accuracy at 90% coverage and calibration error; seed 0 is the headline split, seeds 1 and
2 show how much of it is the split.

    .venv/bin/python -m bench.routing_quality [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from sklearn.model_selection import train_test_split

from assistant.settings import default_model_path
from assistant.training.service import LabelledTexts, read_labelled_csv
from bench.report import SHARED_DATA, table, write_section
from classifiers import TicketClassifier, evaluate, load_taxonomy
from knowledge import Embedder

COMMAND = ".venv/bin/python -m bench.routing_quality"


def data_sets() -> dict[str, LabelledTexts]:
    sets: dict[str, LabelledTexts] = {}
    banking = SHARED_DATA / "banking77"
    if (banking / "train.csv").is_file():
        data = read_labelled_csv(banking / "train.csv", text_column="text", label_column="category")
        sets["BANKING77"] = LabelledTexts(data.texts, data.labels, load_taxonomy(banking / "departments.json"))
    bitext = SHARED_DATA / "bitext" / "bitext_customer_service.csv"
    if bitext.is_file():
        sets["Bitext"] = read_labelled_csv(
            bitext, text_column="utterance", label_column="intent", department_column="category"
        )
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    sets = data_sets()
    if not sets:
        sys.exit(f"no shared data under {SHARED_DATA}: nothing to measure")
    embedder = Embedder(default_model_path()).warm_up()
    rows = []
    for name, data in sets.items():
        started = time.perf_counter()
        vectors = embedder.encode(data.texts, show_progress=True)
        print(f"{name}: encoded {len(data.texts)} texts in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        for seed in args.seeds:
            train, test = train_test_split(
                np.arange(len(data.texts)), test_size=0.2, stratify=data.labels, random_state=seed
            )
            started = time.perf_counter()
            classifier = TicketClassifier(model_name=embedder.model_name).fit(
                [data.texts[i] for i in train],
                [data.labels[i] for i in train],
                vectors[train],
                taxonomy=data.taxonomy,
            )
            fit_seconds = time.perf_counter() - started
            report = evaluate(classifier, [data.texts[i] for i in test], [data.labels[i] for i in test], vectors[test])
            row = [
                name,
                seed,
                len(train),
                len(test),
                f"{report.accuracy:.4f}",
                f"{report.macro_f1:.4f}",
                f"{report.department_accuracy:.4f}",
                f"{report.accuracy_at_coverage(0.9):.4f}",
                f"{report.expected_calibration_error:.3f}",
                f"{fit_seconds:.0f}",
            ]
            print(" | ".join(str(cell) for cell in row))
            rows.append(row)
    headers = [
        "data set",
        "seed",
        "train",
        "test",
        "intent acc",
        "macro-F1",
        "dept acc",
        "acc @ 90% cov",
        "ECE",
        "fit s",
    ]
    body = "\n\n".join(
        [
            "### Routing quality: stratified 80/20 splits",
            "Frozen all-MiniLM-L6-v2 embeddings; no fine-tuning. BANKING77 (Casanueva et al. 2020, CC BY 4.0) with "
            "the team's department taxonomy; Bitext customer-service sample (CDLA-Sharing-1.0) with `category` as "
            "department. Targets on BANKING77 seed 0: intent ≥ 0.930, department ≥ 0.980, accuracy at 90% coverage "
            "≥ 0.975.",
            table(headers, rows),
        ]
    )
    if not args.no_write:
        write_section("routing-quality", COMMAND, body)


if __name__ == "__main__":
    main()
