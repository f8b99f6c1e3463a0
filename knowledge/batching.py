"""Micro-batching: one long-lived thread owns the model and coalesces concurrent requests into batches.

torch runs faster on one long-lived thread than on short-lived pool threads, and one model call for
many texts costs far less than one call per text. Requests that arrive while a batch runs form the
next batch, so a lone request waits for nothing and a crowd shares one forward pass.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import numpy as np

EncodeFn = Callable[[Sequence[str]], np.ndarray]

_STOP = object()


class EncoderWorker:
    def __init__(self, encode: EncodeFn, *, max_batch: int = 64, max_wait_ms: float = 0.0) -> None:
        self._encode = encode
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.batches_run = 0
        self.texts_encoded = 0

    def start(self) -> EncoderWorker:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="encoder", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, texts: Sequence[str]) -> Future[np.ndarray]:
        future: Future[np.ndarray] = Future()
        if not self.running:
            future.set_exception(RuntimeError("encoder worker is not running"))
            return future
        self._queue.put((list(texts), future))
        return future

    def encode(self, texts: Sequence[str], timeout: float | None = 60.0) -> np.ndarray:
        """Blocking: for handler threads."""
        return self.submit(texts).result(timeout)

    async def encode_async(self, texts: Sequence[str]) -> np.ndarray:
        return await asyncio.wrap_future(self.submit(texts))

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            pending = [first]
            size = len(first[0])  # type: ignore[index]
            deadline = time.monotonic() + self.max_wait
            stop_after = False
            while size < self.max_batch:
                try:
                    remaining = deadline - time.monotonic()
                    item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop_after = True
                    break
                pending.append(item)
                size += len(item[0])  # type: ignore[index]
            self._run_batch(pending)  # type: ignore[arg-type]
            if stop_after:
                return

    def _run_batch(self, pending: list[tuple[list[str], Future[np.ndarray]]]) -> None:
        live = [(texts, fut) for texts, fut in pending if fut.set_running_or_notify_cancel()]
        if not live:
            return
        texts = [text for batch, _ in live for text in batch]
        try:
            vectors = self._encode(texts)
        except BaseException as exc:  # the caller gets the failure; the worker lives on
            for _, fut in live:
                fut.set_exception(exc)
            return
        self.batches_run += 1
        self.texts_encoded += len(texts)
        offset = 0
        for batch, fut in live:
            fut.set_result(vectors[offset : offset + len(batch)])
            offset += len(batch)
