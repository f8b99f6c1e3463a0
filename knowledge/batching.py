"""Micro-batching: one long-lived thread owns the model and coalesces concurrent requests into batches.

torch runs faster on one long-lived thread than on short-lived pool threads, and one model call for
many texts costs far less than one call per text. Requests that arrive while a batch runs form the
next batch, so a lone request waits for nothing and a crowd shares one forward pass.

Given several encode functions (one per model process), one thread serves each, all from the same queue:
while one model works on a batch, the next batch goes to another. The first idle model always takes the
next batch, so a trickle of requests keeps going to the same one, whose weights are warm in the cache
(alternating between two models cost a lone request 3–4 ms here).

A request may name a ``then`` step that turns the batch's vectors into results (a classifier's
predictions, a search): requests sharing a step get one call of it for all their texts, on the same
thread, so per-call overhead is paid once per batch instead of once per request.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

EncodeFn = Callable[[Sequence[str]], np.ndarray]
# (texts, their vectors) -> one result per text
BatchStep = Callable[[list[str], np.ndarray], Sequence[Any]]

_STOP = object()
# Sent to a model's thread waiting for work when a model ahead of it in line has become idle.
_YIELD = object()
# The longest a blocking caller waits for its texts' turn and result.
DEFAULT_TIMEOUT_SECONDS = 60.0


@dataclass
class _Request:
    texts: list[str]
    then: BatchStep | None
    future: Future[Any]


class EncoderWorker:
    def __init__(self, encode: EncodeFn | Sequence[EncodeFn], *, max_batch: int = 64, max_wait_ms: float = 0.0) -> None:
        self._encoders = [encode] if callable(encode) else list(encode)
        if not self._encoders:
            raise ValueError("an encoder worker needs at least one encode function")
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self._queue: queue.SimpleQueue[_Request | object] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = set(range(len(self._encoders)))
        self._turn = threading.Condition()
        self._stopping = False
        self._counts_lock = threading.Lock()
        self.batches_run = 0
        self.texts_encoded = 0

    def start(self) -> EncoderWorker:
        if not self._threads:
            self._stopping = False
            for number, encode in enumerate(self._encoders):
                thread = threading.Thread(
                    target=self._run, args=(number, encode), name=f"encoder-{number}", daemon=True
                )
                thread.start()
                self._threads.append(thread)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        with self._turn:
            self._stopping = True
            self._turn.notify_all()
        for _ in self._threads:
            self._queue.put(_STOP)
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    @property
    def running(self) -> bool:
        return bool(self._threads) and all(thread.is_alive() for thread in self._threads)

    def submit(self, texts: Sequence[str], then: BatchStep | None = None) -> Future[Any]:
        """Future of the texts' vectors, or of ``then``'s results for them when a step is given."""
        future: Future[Any] = Future()
        if not self.running:
            future.set_exception(RuntimeError("encoder worker is not running"))
            return future
        self._queue.put(_Request(list(texts), then, future))
        return future

    def encode(self, texts: Sequence[str], timeout: float | None = DEFAULT_TIMEOUT_SECONDS) -> np.ndarray:
        """Blocking: for handler threads."""
        return self.submit(texts).result(timeout)

    def run(self, texts: Sequence[str], then: BatchStep, timeout: float | None = DEFAULT_TIMEOUT_SECONDS) -> list[Any]:
        """Blocking: encode, then ``then`` over the batch; this request's results."""
        return self.submit(texts, then).result(timeout)

    def _run(self, number: int, encode: EncodeFn) -> None:
        while True:
            with self._turn:
                # Only the first idle model waits on the queue; the others wait their turn.
                while not self._stopping and min(self._idle) != number:
                    self._turn.wait()
            first = self._queue.get()
            if first is _YIELD:
                continue
            if first is _STOP:
                self._fail_queued()
                return
            assert isinstance(first, _Request)
            self._mark(number, idle=False)
            pending = [first]
            size = len(first.texts)
            deadline = time.monotonic() + self.max_wait
            stop_after = False
            while size < self.max_batch:
                try:
                    remaining = deadline - time.monotonic()
                    item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _YIELD:
                    continue
                if item is _STOP:
                    stop_after = True
                    break
                assert isinstance(item, _Request)
                pending.append(item)
                size += len(item.texts)
            self._run_batch(number, encode, pending)
            if stop_after:
                self._fail_queued()
                return

    def _mark(self, number: int, *, idle: bool) -> None:
        with self._turn:
            if not idle:
                self._idle.discard(number)
            else:
                # A model behind this one in line may be waiting on the queue: send it back to wait its turn.
                if self._idle and min(self._idle) > number:
                    self._queue.put(_YIELD)
                self._idle.add(number)
            self._turn.notify_all()

    def _fail_queued(self) -> None:
        """Requests that raced with stop() get an answer instead of waiting out their timeout."""
        stops_for_others = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                stops_for_others += 1
            elif isinstance(item, _Request) and item.future.set_running_or_notify_cancel():
                item.future.set_exception(RuntimeError("encoder worker stopped"))
        for _ in range(stops_for_others):
            self._queue.put(_STOP)

    def _run_batch(self, number: int, encode: EncodeFn, pending: list[_Request]) -> None:
        live = [request for request in pending if request.future.set_running_or_notify_cancel()]
        texts = [text for request in live for text in request.texts]
        try:
            vectors = encode(texts) if live else None
        except BaseException as exc:  # the callers get the failure; the worker lives on
            self._mark(number, idle=True)
            for request in live:
                request.future.set_exception(exc)
            return
        # The model is free before anyone is answered: a caller's next request finds it first in line.
        self._mark(number, idle=True)
        if vectors is None:
            return
        with self._counts_lock:
            self.batches_run += 1
            self.texts_encoded += len(texts)
        offsets = np.cumsum([0] + [len(request.texts) for request in live])
        # Keyed by the step itself: bound methods of one object compare equal, so they share a call.
        steps: dict[BatchStep, list[int]] = {}
        for position, request in enumerate(live):
            if request.then is None:
                request.future.set_result(vectors[offsets[position] : offsets[position + 1]])
            else:
                steps.setdefault(request.then, []).append(position)
        for positions in steps.values():
            self._run_step([live[p] for p in positions], [vectors[offsets[p] : offsets[p + 1]] for p in positions])

    @staticmethod
    def _run_step(requests: list[_Request], vectors: list[np.ndarray]) -> None:
        then = requests[0].then
        assert then is not None
        try:
            results = list(then([t for r in requests for t in r.texts], np.concatenate(vectors)))
        except BaseException as exc:
            for request in requests:
                request.future.set_exception(exc)
            return
        start = 0
        for request in requests:
            request.future.set_result(results[start : start + len(request.texts)])
            start += len(request.texts)
