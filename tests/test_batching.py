"""The micro-batching encoder worker on the real model."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from knowledge import EncoderWorker, TextEmbedder


def all_at_once(count: int, call: Callable[[int], Any]) -> dict[int, Any]:
    """``call(i)`` for every i, from ``count`` threads released together."""
    results: dict[int, Any] = {}
    barrier = threading.Barrier(count)

    def request(i: int) -> None:
        barrier.wait()
        results[i] = call(i)

    threads = [threading.Thread(target=request, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_requests_share_batches_and_get_their_own_vectors(embedder: TextEmbedder) -> None:
    texts = [f"ticket number {i}: my order #{1000 + i} has not arrived" for i in range(48)]
    expected = embedder.encode(texts)
    worker = EncoderWorker(embedder.encode, max_batch=64).start()
    results = all_at_once(len(texts), lambda i: worker.encode([texts[i]]))
    worker.stop()
    assert worker.texts_encoded == len(texts)
    assert worker.batches_run < len(texts)  # coalesced
    for i, text in enumerate(texts):
        assert results[i].shape == (1, expected.shape[1]), text
        assert np.allclose(results[i][0], expected[i], atol=1e-4)


def test_several_models_share_one_queue(embedder: TextEmbedder) -> None:
    """One thread per model (process) takes batches from the same queue: while one model works, the next
    batch goes to the other; every caller still gets its own vectors, and stop() ends every thread."""
    texts = [f"ticket {i}: the blender I ordered (#{2000 + i}) arrived broken" for i in range(40)]
    expected = embedder.encode(texts)
    used: dict[str, int] = {}
    gate = threading.Barrier(2, timeout=30)

    def model(name: str) -> Callable[[list[str]], np.ndarray]:
        def encode(batch: list[str]) -> np.ndarray:
            if name not in used:
                gate.wait()  # each model's first batch waits for the other's: both must take part
            used[name] = used.get(name, 0) + len(batch)
            return embedder.encode(batch)

        return encode

    worker = EncoderWorker([model("a"), model("b")], max_batch=8).start()
    results = all_at_once(len(texts), lambda i: worker.encode([texts[i]]))
    worker.stop()
    assert not worker.running
    assert set(used) == {"a", "b"} and sum(used.values()) == len(texts) == worker.texts_encoded
    for i in range(len(texts)):
        assert np.allclose(results[i][0], expected[i], atol=1e-4)
    with pytest.raises(RuntimeError, match="not running"):
        worker.encode(["after stop"])


def test_one_request_at_a_time_stays_with_the_first_model() -> None:
    """A trickle of requests keeps going to the first idle model (its weights stay warm in the cache)."""
    used: list[str] = []

    def model(name: str) -> Callable[[list[str]], np.ndarray]:
        def encode(batch: list[str]) -> np.ndarray:
            used.append(name)
            return np.zeros((len(batch), 2), dtype=np.float32)

        return encode

    worker = EncoderWorker([model("first"), model("second")]).start()
    for i in range(30):
        worker.encode([f"request {i}"])
    worker.stop()
    assert used == ["first"] * 30


def test_vectors_are_normalised(embedder: TextEmbedder) -> None:
    vectors = embedder.encode(["hello", "a much longer ticket text about a refund for a broken kettle"])
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_failures_reach_the_caller_and_the_worker_lives_on() -> None:
    calls = []

    def flaky(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        if texts == ["boom"]:
            raise RuntimeError("model failed")
        return np.ones((len(texts), 2), dtype=np.float32)

    worker = EncoderWorker(flaky).start()
    with pytest.raises(RuntimeError, match="model failed"):
        worker.encode(["boom"])
    assert worker.encode(["fine"]).shape == (1, 2)
    worker.stop()
    with pytest.raises(RuntimeError, match="not running"):
        worker.encode(["after stop"])


def test_a_step_runs_once_per_batch_for_all_its_requests(embedder: TextEmbedder) -> None:
    class Step:
        def __init__(self) -> None:
            self.calls: list[int] = []

        def lengths(self, texts: list[str], vectors: np.ndarray) -> list[tuple[int, int]]:
            self.calls.append(len(texts))
            return [(len(text), vectors.shape[1]) for text in texts]

    step = Step()
    worker = EncoderWorker(embedder.encode, max_batch=64).start()
    texts = [f"{'x' * i} order" for i in range(1, 25)]
    # step.lengths is a new bound method object on every call; equal ones must share a batch call.
    results = all_at_once(len(texts), lambda i: worker.run([texts[i]], then=step.lengths))
    worker.stop()
    assert all(results[i] == [(len(texts[i]), 384)] for i in range(len(texts)))
    assert sum(step.calls) == len(texts)
    assert len(step.calls) == worker.batches_run < len(texts)


def test_encoder_process_matches_in_process_vectors(embedder: TextEmbedder, model_cache_dir: Path) -> None:
    from assistant.settings import default_model_path
    from knowledge.encoder_process import EncoderProcess

    texts = ["where is my parcel", "I was charged twice for order #A10234"]
    process = EncoderProcess("onnx", default_model_path(), cache_dir=model_cache_dir).start()
    try:
        assert process.running and process.dimension == 384
        on_every_core = process.encode(texts, threads=2, hold=True)
        on_one = process.encode(texts, threads=1)
        worker = EncoderWorker(process.encode).start()
        vectors = worker.encode(texts)
        worker.stop()
    finally:
        process.stop()
    assert not process.running
    for result in (vectors, on_every_core, on_one):
        assert np.allclose(result, embedder.encode(texts), atol=1e-4)


@pytest.mark.parametrize("backend", ["onnx", "sentence-transformers"])
def test_encoder_process_reports_a_missing_model(backend: str, tmp_path: Path) -> None:
    from knowledge.encoder_process import EncoderProcess

    with pytest.raises(RuntimeError, match="failed to load"):
        EncoderProcess(backend, f"{tmp_path}/no-model-here", cache_dir=tmp_path / "cache").start()


def test_process_pool_gives_a_lone_batch_every_core_and_side_by_side_batches_a_share() -> None:
    """Stand-ins for model processes record the thread count each batch was given; the real processes are
    exercised above and by every server test."""
    from knowledge.encoder_process import ProcessPool

    both_running = threading.Barrier(2, timeout=30)

    class Recorder:
        def __init__(self) -> None:
            self.threads: list[int] = []

        def encode(self, texts: list[str], *, threads: int = 0, hold: bool = False) -> np.ndarray:
            self.threads.append(threads)
            if texts == ["together"]:
                both_running.wait()
            return np.zeros((len(texts), 2), dtype=np.float32)

    first, second = Recorder(), Recorder()
    pool = ProcessPool([first, second], cores=2)  # type: ignore[list-item]
    encode_first, encode_second = pool.encoders()
    encode_first(["alone"])
    assert first.threads == [2]
    together = [threading.Thread(target=encode, args=(["together"],)) for encode in (encode_first, encode_second)]
    for thread in together:
        thread.start()
    for thread in together:
        thread.join()
    # Whichever started second saw the other in flight and took its share of one core.
    assert sorted([first.threads[-1], second.threads[-1]]) == [1, 2]
