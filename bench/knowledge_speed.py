"""Portal FAQ search and agent suggestions against the model's own limit.

Times the bare model (one text; batches of 32), starts the real server (demo data) on 127.0.0.1,
imports FAQ entries through the CLI until it holds 1,000 published entries (StackFAQ's 125 plus
BANKING77 questions), then sends FAQ searches at concurrency 1, 8 and 32 and suggestion requests at
concurrency 1 and 8, for a bounded time each.

    .venv/bin/python -m bench.knowledge_speed [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

from assistant.cases.service import read_cases_file
from assistant.demo import DEMO_CASES
from bench.loadgen import LoadResult, RequestFactory, run_load
from bench.report import SHARED_DATA, table, write_section
from bench.routing_speed import (
    TARGET_COLUMNS,
    absolute_row,
    bare_model,
    describe_bare,
    free_port,
    ratio_row,
    start_server,
    stop_server,
    ticket_texts,
)

COMMAND = ".venv/bin/python -m bench.knowledge_speed"
FAQ_ENTRIES = 1_000


def faq_file(directory: Path, already: int) -> Path:
    """StackFAQ's entries, then BANKING77 questions (answered by their intent), up to 1,000 in all."""
    entries = [
        {"external_id": e["id"], "question": e["question"], "answer": "\n\n".join(e["answers"])}
        for e in json.loads((SHARED_DATA / "stackfaq" / "faq_entries.json").read_text())
    ]
    seen = set()
    with (SHARED_DATA / "banking77" / "train.csv").open(newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle)):
            if len(entries) + already >= FAQ_ENTRIES:
                break
            if row["text"] in seen:
                continue
            seen.add(row["text"])
            answer = f"This is answered by our {row['category'].replace('_', ' ')} guide."
            entries.append({"external_id": f"b77-{number}", "question": row["text"], "answer": answer})
    path = directory / "faq.json"
    path.write_text(json.dumps(entries))
    return path


def portal_queries() -> list[str]:
    lines = (SHARED_DATA / "stackfaq" / "dev_queries.jsonl").read_text().splitlines()
    return [json.loads(line)["query"] for line in lines if line.strip()]


def searches(key: str, queries: list[str]) -> RequestFactory:
    headers = {"Authorization": f"Bearer {key}"}

    def make(n: int) -> tuple[str, str, dict[str, str], bytes]:
        return "GET", "/v1/faq/search?" + urlencode({"q": queries[n % len(queries)], "k": 5}), headers, b""

    return make


def suggestion_requests(key: str, texts: list[str]) -> RequestFactory:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def make(n: int) -> tuple[str, str, dict[str, str], bytes]:
        return "POST", "/v1/suggestions", headers, json.dumps({"text": texts[n % len(texts)]}).encode()

    return make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="load time per level")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    if not (SHARED_DATA / "stackfaq").is_dir():
        sys.exit(f"the shared data sets are not under {SHARED_DATA}: nothing to measure")
    texts = ticket_texts()

    results: dict[tuple[str, int], LoadResult] = {}
    # The load comes from one key: the portal's per-key budget would measure the limiter, not the service.
    os.environ["ASSISTANT_PORTAL_SEARCHES_PER_MINUTE"] = "0"
    with tempfile.TemporaryDirectory(prefix="bench-knowledge-") as tmp:
        data_dir = Path(tmp)
        bare = bare_model(texts, data_dir / "models")
        port = free_port()
        server = start_server(data_dir, port)
        try:
            key = json.loads((data_dir / "demo-credentials.json").read_text())["api_key"]
            auth = {"Authorization": f"Bearer {key}"}
            base = f"http://127.0.0.1:{port}"
            published = httpx.get(f"{base}/v1/faq", params={"published": True, "limit": 1}, headers=auth).json()
            path = faq_file(data_dir, published["total"])
            subprocess.run(
                [sys.executable, "-m", "assistant.cli", "import-faq", "--data-dir", str(data_dir), str(path)],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # the server follows the import through the change log
                total = httpx.get(f"{base}/v1/faq", params={"published": True, "limit": 1}, headers=auth).json()
                if total["total"] >= FAQ_ENTRIES:
                    break
                time.sleep(0.5)
            print(f"{total['total']} published FAQ entries", file=sys.stderr)
            queries = portal_queries()
            asyncio.run(run_load(port, searches(key, queries), concurrency=4, seconds=3.0))
            asyncio.run(run_load(port, suggestion_requests(key, texts), concurrency=4, seconds=3.0))
            plan = [("FAQ search", c, searches(key, queries)) for c in (1, 8, 32)]
            plan += [("suggestions", c, suggestion_requests(key, texts)) for c in (1, 8)]
            for name, concurrency, factory in plan:
                r = asyncio.run(run_load(port, factory, concurrency=concurrency, seconds=args.seconds))
                results[(name, concurrency)] = r
                print(
                    f"{name} c{concurrency}: {r.per_second:6.1f}/s  p50 {r.percentile(50):.1f} ms  "
                    f"p95 {r.percentile(95):.1f} ms  p99 {r.percentile(99):.1f} ms  errors {r.errors({200})}"
                )
        finally:
            stop_server(server)

    rows = [
        [
            name,
            c,
            r.requests,
            r.errors({200}),
            f"{r.per_second:.1f}",
            f"{r.percentile(50):.1f}",
            f"{r.percentile(95):.1f}",
            f"{r.percentile(99):.1f}",
        ]
        for (name, c), r in results.items()
    ]
    search_p99 = results[("FAQ search", 8)].percentile(99)
    search_rate = results[("FAQ search", 8)].per_second
    peer = search_rate / 51.0

    body = "\n\n".join(
        [
            "### Knowledge speed: portal FAQ search and agent suggestions against the bare model",
            describe_bare(bare),
            f"Real server (`assistant serve`, SQLite, demo data) on 127.0.0.1 with {FAQ_ENTRIES:,} published FAQ "
            f"entries (StackFAQ + BANKING77 questions, imported through `assistant import-faq` while it ran), "
            f"{args.seconds:.0f} s per level. FAQ search queries: StackFAQ's paraphrases; suggestion texts: the "
            f"demo tickets, against the demo's {len(read_cases_file(DEMO_CASES))} resolved cases and the "
            f"{FAQ_ENTRIES:,} entries.",
            table(["request", "concurrency", "requests", "errors", "per s", "p50 ms", "p95 ms", "p99 ms"], rows),
            table(
                TARGET_COLUMNS,
                [
                    ratio_row(
                        "FAQ search p50 at concurrency 1 ≤ 1.3 x bare single",
                        results[("FAQ search", 1)].percentile(50),
                        bare,
                        "single_ms",
                        1.3,
                    ),
                    ratio_row(
                        "FAQ search throughput at concurrency 8 ≥ 0.85 x bare batched",
                        search_rate,
                        bare,
                        "batch32_per_s",
                        0.85,
                    ),
                    absolute_row("FAQ search p99 at concurrency 8 ≤ 100 ms", f"{search_p99:.1f} ms", search_p99 <= 100),
                    ratio_row(
                        "suggestions p50 at concurrency 1 ≤ 2 x bare single",
                        results[("suggestions", 1)].percentile(50),
                        bare,
                        "single_ms",
                        2.0,
                    ),
                    absolute_row("FAQ search at concurrency 8 ≥ 3 x txtai's 51/s", f"{peer:.1f} x", peer >= 3),
                ],
            ),
        ]
    )
    print(body)
    if not args.no_write:
        write_section("knowledge-speed", COMMAND, body)


if __name__ == "__main__":
    main()
