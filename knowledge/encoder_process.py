"""The embedding model in a child process of its own.

Inside the service's process, the model's forward pass shares the GIL with every handler thread:
torch releases it for each of the hundreds of small operations in a BERT forward pass and must win
it back each time, so a busy web process slows the model several-fold. A child process has a GIL
of its own; the parent's batching thread sends it a batch and gets the vectors back through a pipe.
ONNX Runtime (the default backend) holds the GIL only around a run, but tokenising and the process's
own threads still stay out of the web process's way.

After a batch that had the machine to itself, the process can hold its cores awake for a moment
(``hold_ms``): it watches the pipe instead of sleeping on it, and torch's OpenMP threads spin as long. A
core that has gone idle comes back slowly: on this 2-core VM one text took 9.5 ms back to back but 13–16 ms
when the model had slept 1–20 ms between texts, and requests that come one at a time always leave such a
gap. The watching thread yields the core whenever another thread wants it, so the web process handling
the next request is not slowed; holding without yielding lost the gain. Measured through the server at
concurrency 1, p50: FAQ search 25.8 ms without the hold, 17.2 ms with 10 ms (four alternating runs each);
webhook tickets, whose classifying and committing leave a longer gap, 26–40 ms without, 30–38 ms with 10 ms
and 24–27 ms with 30 ms (two runs each, on a machine whose speed drifted by half between runs). The hold
ends as soon as the next batch comes and costs at most ``hold_ms`` of CPU per lone batch.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

READY = "ready"
START_TIMEOUT_SECONDS = 180.0
# libgomp counts its threads' waiting in spins, not time: about 14 ns each measured here.
GOMP_SPINS_PER_MS = 70_000


class EncoderProcess:
    def __init__(
        self,
        backend: str,
        model_path: str | Path = "",
        *,
        threads: int = 0,
        hold_ms: float = 0.0,
        cache_dir: str | Path = "",
        thread_counts: Sequence[int] = (),
    ) -> None:
        """``hold_ms``: the longest the process may hold its cores awake after a batch (see the module).
        ``cache_dir``: for the onnx backend's export (see ``knowledge.embedder.create_embedder``).
        ``thread_counts``: the counts batches will ask for, made ready before the process says it is."""
        self.backend = backend
        self.model_path = str(model_path)
        self.threads = threads
        self.hold_ms = hold_ms
        self.cache_dir = str(cache_dir)
        self.thread_counts = tuple(thread_counts)
        self.dimension = 0
        self._connection: Connection | None = None
        self._process: Any = None
        self._lock = threading.Lock()

    def start(self) -> EncoderProcess:
        if self._process is not None:
            return self
        context = multiprocessing.get_context("spawn")  # never fork a process that holds threads
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(child, self.backend, self.model_path, self.threads, self.hold_ms, self.cache_dir, self.thread_counts),
            name="encoder",
            daemon=True,
        )
        process.start()
        child.close()
        if not parent.poll(START_TIMEOUT_SECONDS):
            process.kill()
            raise RuntimeError(f"encoder process did not start within {START_TIMEOUT_SECONDS:.0f} s")
        try:
            message = parent.recv()
        except EOFError:
            message = RuntimeError(f"the process exited with code {process.exitcode}")
        if isinstance(message, BaseException):
            process.join(5)
            what = f"{self.backend} {self.model_path}".strip()
            raise RuntimeError(f"encoder process failed to load {what}: {message}") from message
        _, self.dimension = message
        self._connection, self._process = parent, process
        return self

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def encode(self, texts: Sequence[str], *, threads: int = 0, hold: bool = False) -> np.ndarray:
        """``threads``: how many threads the model may use for this batch (0: as it is). ``hold``: keep the
        cores awake afterwards, up to the process's ``hold_ms``, for a next batch that soon follows."""
        if self._connection is None or not self.running:
            raise RuntimeError("encoder process is not running")
        with self._lock:
            self._connection.send((list(texts), threads, hold))
            result = self._connection.recv()
        if isinstance(result, BaseException):
            raise result
        return result

    def stop(self, timeout: float = 10.0) -> None:
        if self._process is None:
            return
        try:
            assert self._connection is not None
            self._connection.send(None)
        except (OSError, BrokenPipeError):
            pass
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout)
        if self._connection is not None:
            self._connection.close()
        self._process = self._connection = None


class ProcessPool:
    """Model processes that share the machine's cores. A batch runs on all of them when it is the only one in
    flight (its process then holds them awake for a moment), and on its share when batches run side by side:
    threads beyond the cores wait on each other at every step of a forward pass. Measured with torch on
    this 2-core machine (batches of 32): one process on 2 threads 110–144 texts/s; two on 2 threads each, side by
    side, 90/s; two on 1 thread each 146–153/s. One text alone: 15–20 ms on 2 threads, 21–22 ms on 1.
    (OpenMP's passive wait policy helped two oversubscribed processes, 128/s, but cost a lone text 3–9 ms,
    so it is not set.)"""

    def __init__(self, processes: Sequence[EncoderProcess], *, cores: int) -> None:
        self.processes = list(processes)
        self.cores = max(1, cores)
        self._in_flight = 0
        self._lock = threading.Lock()

    def encoders(self) -> list[Callable[[Sequence[str]], np.ndarray]]:
        """One encode function per process, for an ``EncoderWorker``."""
        return [functools.partial(self._encode, process) for process in self.processes]

    def _encode(self, process: EncoderProcess, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            self._in_flight += 1
            alone = self._in_flight == 1
        try:
            share = self.cores if alone else max(1, self.cores // len(self.processes))
            # Batches side by side keep each other's cores busy; a held core would only take one from the other.
            return process.encode(texts, threads=share, hold=alone)
        finally:
            with self._lock:
                self._in_flight -= 1


def _serve(
    connection: Connection,
    backend: str,
    model_path: str,
    threads: int,
    hold_ms: float,
    cache_dir: str,
    thread_counts: tuple[int, ...],
) -> None:
    from knowledge.embedder import SENTENCE_TRANSFORMERS, create_embedder

    if hold_ms > 0 and backend == SENTENCE_TRANSFORMERS:
        # Read when torch loads libgomp: its threads then wait as long as the process holds its cores.
        os.environ.setdefault("GOMP_SPINCOUNT", str(int(hold_ms * GOMP_SPINS_PER_MS)))
    try:
        embedder = create_embedder(backend, model_path=model_path, threads=threads, cache_dir=cache_dir).warm_up()
        for count in thread_counts:
            embedder.use_threads(count)
    except BaseException as exc:
        connection.send(exc)
        return
    connection.send((READY, embedder.dimension))
    hold = False
    while True:
        if hold:
            until = time.perf_counter() + hold_ms / 1000
            while time.perf_counter() < until and not connection.poll(0):
                # Awake, yet the web process's threads get the core the moment they need it.
                os.sched_yield()
        try:
            message = connection.recv()
        except EOFError:  # the parent is gone
            return
        if message is None:
            return
        texts, batch_threads, hold = message
        try:
            if batch_threads:
                embedder.use_threads(batch_threads)
            connection.send(embedder.encode(texts))
        except Exception as exc:
            connection.send(exc)
