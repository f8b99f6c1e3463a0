"""A lean HTTP/1.1 load generator on raw asyncio streams, one keep-alive connection per worker.

General-purpose clients cost more CPU per request than the service under test on this 2-core
machine (httpx at concurrency 32 capped a trivial /health route at ~420 requests/s), so the figures
would measure the client. This one writes prepared request bytes and parses only the status line and
Content-Length. Bounded in time; talks to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

RequestFactory = Callable[[int], tuple[str, str, dict[str, str], bytes]]  # n -> method, path, headers, body


@dataclass
class LoadResult:
    concurrency: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else float("nan")

    def errors(self, expected: set[int]) -> int:
        return sum(count for status, count in self.statuses.items() if status not in expected)


def encode_request(method: str, path: str, headers: dict[str, str], body: bytes, host: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def run_load(
    port: int, make_request: RequestFactory, *, concurrency: int, seconds: float, host: str = "127.0.0.1"
) -> LoadResult:
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise ValueError("load is only ever sent to this machine")
    counter = itertools.count()
    result = LoadResult(concurrency=concurrency, seconds=seconds)
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < deadline:
                method, path, headers, body = make_request(next(counter))
                started = time.perf_counter()
                writer.write(encode_request(method, path, headers, body, f"{host}:{port}"))
                status = await read_response(reader)
                result.latencies_ms.append((time.perf_counter() - started) * 1000)
                result.statuses[status] = result.statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.seconds = time.monotonic() - started
    return result
