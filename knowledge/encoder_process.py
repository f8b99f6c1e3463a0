"""The embedding model in a child process of its own.

Inside the service's process, the model's forward pass shares the GIL with every handler thread:
torch releases it for each of the hundreds of small operations in a BERT forward pass and must win
it back each time, so a busy web process slows the model several-fold. A child process has a GIL
of its own; the parent's batching thread sends it a batch and gets the vectors back through a pipe.
"""

from __future__ import annotations

import functools
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

READY = "ready"
START_TIMEOUT_SECONDS = 180.0


class EncoderProcess:
    def __init__(self, backend: str, model_path: str | Path = "", *, threads: int = 0) -> None:
        self.backend = backend
        self.model_path = str(model_path)
        self.threads = threads
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
            target=_serve, args=(child, self.backend, self.model_path, self.threads), name="encoder", daemon=True
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

    def encode(self, texts: Sequence[str], *, threads: int = 0) -> np.ndarray:
        """``threads``: how many threads the model may use for this batch (0: as it is)."""
        if self._connection is None or not self.running:
            raise RuntimeError("encoder process is not running")
        with self._lock:
            self._connection.send((list(texts), threads))
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
    flight, and on its share when batches run side by side: OpenMP threads beyond the cores wait on each
    other at every step of a forward pass. Measured on this 2-core machine (batches of 32): one process
    on 2 threads 110–144 texts/s; two on 2 threads each, side by side, 90/s; two on 1 thread each
    146–153/s. One text alone: 15–20 ms on 2 threads, 21–22 ms on 1. (OpenMP's passive wait policy
    helped two oversubscribed processes, 128/s, but cost a lone text 3–9 ms, so it is not set.)"""

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
            return process.encode(texts, threads=share)
        finally:
            with self._lock:
                self._in_flight -= 1


def _serve(connection: Connection, backend: str, model_path: str, threads: int) -> None:
    from knowledge.embedder import create_embedder

    try:
        embedder = create_embedder(backend, model_path=model_path, threads=threads).warm_up()
    except BaseException as exc:
        connection.send(exc)
        return
    connection.send((READY, embedder.dimension))
    while True:
        try:
            message = connection.recv()
        except EOFError:  # the parent is gone
            return
        if message is None:
            return
        texts, batch_threads = message
        try:
            if batch_threads:
                embedder.use_threads(batch_threads)
            connection.send(embedder.encode(texts))
        except Exception as exc:
            connection.send(exc)
