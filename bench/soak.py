"""A bounded soak: mixed traffic at a steady rate against the real server, watching errors and memory.

Starts `assistant serve` (demo data) on 127.0.0.1 and, for ``--minutes``, sends at fixed rates: signed
ticket webhooks, suggestions, portal FAQ searches, signed event batches and KPI queries, each stream
paced on its own keep-alive connection (open loop: a slow answer does not slow the offered load).
Reports errors (target 0), latency percentiles per route, and the resident memory of the server and
its model process at the start and the end (target: growth under 10%).

    .venv/bin/python -m bench.soak [--minutes 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

from assistant.security import signed_headers
from bench.loadgen import encode_request, read_response
from bench.report import table, write_section
from bench.routing_speed import free_port, start_server, stop_server, ticket_texts

COMMAND = ".venv/bin/python -m bench.soak"
Request = tuple[str, str, dict[str, str], bytes]


@dataclass
class Stream:
    name: str
    per_second: float
    make: Callable[[int], Request]
    expected: set[int]
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (the model runs in a child)."""
    total = 0
    for candidate in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def _children(pid: int) -> list[int]:
    # Children are listed per thread: the model process is started from a lifespan worker thread.
    direct: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            direct += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return direct + [grand for child in direct for grand in _children(child)]


async def run_stream(port: int, stream: Stream, deadline: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    interval, n, start = 1.0 / stream.per_second, 0, time.monotonic()
    try:
        while True:
            slot = start + n * interval
            # Past the deadline, or hopelessly behind it (an overloaded server): stop.
            if slot >= deadline or time.monotonic() > deadline + 30:
                return
            await asyncio.sleep(max(0.0, slot - time.monotonic()))
            method, path, headers, body = stream.make(n)
            began = time.perf_counter()
            writer.write(encode_request(method, path, headers, body, f"127.0.0.1:{port}"))
            status = await read_response(reader)
            stream.latencies_ms.append((time.perf_counter() - began) * 1000)
            if status not in stream.expected:
                stream.errors += 1
            n += 1
    finally:
        writer.close()


def streams(secret: str, key: str, texts: list[str], label: str) -> list[Stream]:
    """``label`` keeps each run's ticket and event ids new: a repeated delivery would be a replay."""
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def ticket(n: int) -> Request:
        body = json.dumps(
            {"source": "demo", "external_id": f"soak-{label}-{n}", "event_id": "1", "body": texts[n % len(texts)]}
        )
        return "POST", "/v1/webhooks/tickets", signed_headers(secret, body.encode()), body.encode()

    def suggestion(n: int) -> Request:
        return "POST", "/v1/suggestions", auth, json.dumps({"text": texts[(n * 7) % len(texts)]}).encode()

    def search(n: int) -> Request:
        return "GET", "/v1/faq/search?" + urlencode({"q": texts[(n * 13) % len(texts)]}), auth, b""

    def events(n: int) -> Request:
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        batch = [
            {
                "source": "demo",
                "event_id": f"soak-{label}-{n}-{k}",
                "ticket_id": f"soak-{label}-{n}",
                "kind": kind,
                "occurred_at": at,
            }
            for k, kind in enumerate(("ticket_created", "agent_reply", "solved"))
        ]
        body = json.dumps({"events": batch}).encode()
        return "POST", "/v1/webhooks/events", signed_headers(secret, body), body

    def kpis(n: int) -> Request:
        return "GET", "/v1/kpis?group_by=department", auth, b""

    return [
        Stream("ticket webhook", 10, ticket, {201}),
        Stream("suggestions", 5, suggestion, {200}),
        Stream("FAQ search", 10, search, {200}),
        Stream("event webhook", 5, events, {201}),
        Stream("KPIs", 0.5, kpis, {200}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    args = parser.parse_args()
    texts = ticket_texts()
    # One key drives all the portal searches here; the per-key budget is not what is measured.
    os.environ["ASSISTANT_PORTAL_SEARCHES_PER_MINUTE"] = "0"
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        data_dir, port = Path(tmp), free_port()
        server = start_server(data_dir, port)
        try:
            credentials = json.loads((data_dir / "demo-credentials.json").read_text())
            plan = streams(credentials["webhook_secret"], credentials["api_key"], texts, "run")
            warm_up = streams(credentials["webhook_secret"], credentials["api_key"], texts, "warm")
            asyncio.run(_run_all(port, warm_up, time.monotonic() + 10))
            rss_start = rss_mib(server.pid)
            began = time.monotonic()
            asyncio.run(_run_all(port, plan, began + args.minutes * 60))
            elapsed = time.monotonic() - began
            rss_end = rss_mib(server.pid)
        finally:
            stop_server(server)

    rows = [
        [
            s.name,
            f"{s.per_second:g}",
            len(s.latencies_ms),
            s.errors,
            f"{np.percentile(s.latencies_ms, 50):.1f}",
            f"{np.percentile(s.latencies_ms, 95):.1f}",
            f"{np.percentile(s.latencies_ms, 99):.1f}",
            f"{max(s.latencies_ms):.1f}",
        ]
        for s in plan
    ]
    errors = sum(s.errors for s in plan)
    growth = (rss_end - rss_start) / rss_start
    body = "\n\n".join(
        [
            "### Soak: mixed traffic at a steady rate",
            f"Real server (`assistant serve`, SQLite, demo data) on 127.0.0.1 for {elapsed / 60:.1f} minutes after a "
            "10 s warm-up; each stream paced on its own connection. Load average when done: "
            f"{os.getloadavg()[0]:.1f}.",
            table(["route", "per s", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"], rows),
            table(
                ["target", "measured", "met"],
                [
                    ["errors = 0", str(errors), "yes" if errors == 0 else "no"],
                    [
                        "resident memory growth < 10% (server + model process)",
                        f"{rss_start:.0f} → {rss_end:.0f} MiB ({growth:+.1%})",
                        "yes" if growth < 0.10 else "no",
                    ],
                ],
            ),
        ]
    )
    print(body)
    if not args.no_write:
        write_section("soak", COMMAND, body)


async def _run_all(port: int, plan: list[Stream], deadline: float) -> None:
    await asyncio.gather(*(run_stream(port, stream, deadline) for stream in plan))


if __name__ == "__main__":
    main()
