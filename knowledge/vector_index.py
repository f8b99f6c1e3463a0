"""A FAISS vector index keyed by database primary keys: exact while small, IVF once it is large.

Vectors are L2-normalised float32, so inner product is cosine similarity. The ids are the rows' primary
keys, so a row is replaced or removed in place (no rebuild) and a hit maps straight back to its row.

Layouts, chosen by the index itself and recorded in ``meta.json``:

- ``flat``: ``IndexIDMap2(IndexFlatIP)`` while the index holds at most ``approximate_threshold`` vectors.
  Exact, and fast enough at that size: a query costs about 0.1 ms per 1,000 stored vectors on one core
  (~5 ms at the default 50k threshold).
- ``ivf``: ``IndexIVFFlat`` with the inner-product metric past the threshold, ``nlist ≈ 4·sqrt(n)``
  k-means lists. IVF stores ids itself (``add_with_ids``) and supports ``remove_ids``, which HNSW does
  not; that is why it is IVF. The default ``nprobe`` was measured on real embeddings to keep recall@10
  at or above 0.95 against exact search (``bench/index_speed.py``).

Changing layout needs k-means training (about 10 s at 50k vectors on one FAISS thread, about 3 minutes
at 1M on two, on a 2-core machine), so it never runs under the lock searches take: the vectors are
copied out, the new index is trained and filled beside the live one while searches and writes go on,
writes made meanwhile are replayed onto it, and it is swapped in. The same happens when an IVF index has
grown ``RETRAIN_GROWTH`` times past the size it was trained at (its lists would otherwise get long and
slow, and its centroids stale), and, the other way, when removals shrink it below half the threshold
(back to exact search). While that runs, memory holds the live index, the copy and the new index.

Thread safety: any number of threads may search at once (FAISS releases the GIL and its searches are
read-only); writes (``add``, ``remove``, a layout swap) wait for searches to finish and searches wait for
them. Waiting writers go first, so a steady stream of searches cannot starve them.
"""

from __future__ import annotations

import ctypes
import errno
import json
import math
import os
import shutil
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import faiss
import numpy as np

INDEX_FILE = "index.faiss"
META_FILE = "meta.json"
FORMAT_VERSION = 1
FLAT = "flat"
IVF = "ivf"

NORM_TOLERANCE = 1e-2
"""How far from 1 a stored vector's norm may be. Loose enough for float16 round trips, tight enough to
catch vectors that were never normalised (their inner products would not be cosines)."""

LISTS_PER_SQRT_N = 4.0
"""``nlist = 4·sqrt(n)``: lists of ~sqrt(n)/4 vectors, the usual balance between the coarse search over
the centroids and the scan of the probed lists."""

TRAIN_POINTS_PER_LIST = 40
"""k-means sees at most this many vectors per list (FAISS's seeded sample; it wants at least 39). FAISS's
default, 256, makes training at 1M vectors six times slower, and on these sentence embeddings 32, 64 and
256 per list gave the same recall@10 within 0.005 (20k real and 100k vectors, every nprobe from 4 to 96)."""

RETRAIN_GROWTH = 4
"""Retrain an IVF index once it holds this many times the vectors it was trained on."""

FLAT_BELOW_FRACTION = 0.5
"""An IVF index that shrinks below this fraction of the threshold goes back to exact search; the gap
keeps an index near the threshold from switching back and forth."""

_INT64_MAX = np.iinfo(np.int64).max


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the row's primary key and its cosine similarity to the query."""

    id: int
    score: float


class IndexMismatchError(ValueError):
    """The saved index was built with a different embedding model or dimension than the caller uses."""


class _ReadWriteLock:
    """Many readers or one writer; a waiting writer blocks new readers so it cannot be starved."""

    def __init__(self) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._condition:
            while self._writing or self._writers_waiting:
                self._condition.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                if not self._readers:
                    self._condition.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._condition:
            self._writers_waiting += 1
            try:
                while self._writing or self._readers:
                    self._condition.wait()
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


# A write made while a new layout is being built, replayed onto it before the swap.
_JournalEntry = tuple[Literal["add"], np.ndarray, np.ndarray] | tuple[Literal["remove"], np.ndarray, None]


class VectorIndex:
    """Cosine-similarity search over vectors keyed by int64 ids, with upsert and remove in place.

    ``approximate_threshold`` is the size past which the index turns approximate (read at each write).
    ``revision`` is the caller's: the database revision this index reflects, saved and loaded with it so a
    process knows which changes it still has to apply.

    ``faiss_threads`` is the number of OpenMP threads FAISS uses for this index's calls: 1 by default,
    because on a small machine FAISS's pool and torch's fight over the same cores (and a single query is
    not parallelised anyway). libgomp keeps that setting per thread, so it is applied in the thread of
    every call: set once where the index is created, the web server's worker threads would still use one
    thread per core. ``None`` leaves FAISS's setting alone. It is a plain attribute, so a benchmark can
    build with 2 threads and search with 1.
    """

    def __init__(
        self,
        dimension: int,
        model_name: str,
        *,
        approximate_threshold: int = 50_000,
        nprobe: int | None = None,
        faiss_threads: int | None = 1,
    ) -> None:
        if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension < 1:
            raise ValueError(f"dimension must be a positive integer, got {dimension!r}")
        if isinstance(approximate_threshold, bool) or not isinstance(approximate_threshold, int):
            raise ValueError(f"approximate_threshold must be an integer, got {approximate_threshold!r}")
        if approximate_threshold < 1:
            raise ValueError(f"approximate_threshold must be at least 1, got {approximate_threshold}")
        _check_nprobe(nprobe)
        if faiss_threads is not None and (
            isinstance(faiss_threads, bool) or not isinstance(faiss_threads, int) or faiss_threads < 1
        ):
            raise ValueError(f"faiss_threads must be None or a positive integer, got {faiss_threads!r}")
        self.dimension = dimension
        self.model_name = model_name
        self.revision = 0
        self.approximate_threshold = approximate_threshold
        self.faiss_threads = faiss_threads
        self._nprobe_setting = nprobe
        self._lock = _ReadWriteLock()
        self._rebuilding = threading.Lock()
        self._journal: list[_JournalEntry] | None = None
        self._use_threads()
        self._index: Any = self._new_flat()
        self._kind = FLAT
        self._ids = np.empty(0, dtype=np.int64)  # sorted; the source of truth for membership
        self._nlist = 0
        # Layouts built and swapped in by this object (flat → IVF, retrains, IVF → flat), and how many of them
        # were retrains of an IVF layout: for monitoring.
        self.layouts_built = 0
        self.retrains = 0
        self._trained_count = 0

    # ------------------------------------------------------------------ reading

    @property
    def index_type(self) -> str:
        """``"flat"`` (exact) or ``"ivf"`` (approximate)."""
        return self._kind

    @property
    def nlist(self) -> int | None:
        """Number of IVF lists, or None while the index is flat."""
        return self._nlist if self._kind == IVF else None

    @property
    def nprobe(self) -> int | None:
        """Lists probed per IVF search (the setting, or the measured default for this ``nlist``); None while flat."""
        return self._effective_nprobe(self._nlist) if self._kind == IVF else None

    @nprobe.setter
    def nprobe(self, value: int | None) -> None:
        """Set the lists probed per search (None: the measured default); applies at once and to later layouts."""
        _check_nprobe(value)
        with self._lock.write():
            self._nprobe_setting = value
            if self._kind == IVF:
                self._index.nprobe = self._effective_nprobe(self._nlist)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, id: object) -> bool:
        if isinstance(id, bool) or not isinstance(id, int | np.integer):
            return False
        value, ids = int(id), self._ids
        if not 0 <= value <= _INT64_MAX:
            return False
        position = int(np.searchsorted(ids, value))
        return position < len(ids) and int(ids[position]) == value

    def ids(self) -> np.ndarray:
        """Every stored id, ascending (an int64 copy)."""
        return self._ids.copy()

    def search(self, queries: np.ndarray, k: int = 10, *, min_score: float | None = None) -> list[list[Hit]]:
        """The ``k`` most similar stored vectors for each query, best first.

        ``queries`` is ``(n, d)`` or one ``(d,)`` vector; the answer always has one list per query. A list
        holds fewer than ``k`` hits when the index is smaller, when ``min_score`` (a cosine floor,
        inclusive) cuts it, or, in IVF mode, when the probed lists hold fewer than ``k`` vectors.
        Queries are not required to be normalised (only stored vectors are), but scores are cosines
        only if they are.
        """
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if min_score is not None and math.isnan(float(min_score)):
            raise ValueError("min_score must be a number, got NaN")
        matrix = self._as_vectors(queries, "queries", check_norm=False)
        if not len(matrix):
            return []
        with self._lock.read():
            stored = self._index.ntotal
            if not stored:
                return [[] for _ in range(len(matrix))]
            self._use_threads()
            scores, labels = self._index.search(matrix, min(int(k), stored))
        floor = -math.inf if min_score is None else float(min_score)
        # Plain lists, not per-row numpy masks: for k ≈ 10 this is several times cheaper per query.
        return [
            [
                Hit(id=label, score=score)
                for label, score in zip(row_labels, row_scores, strict=True)
                if label >= 0 and score >= floor
            ]
            for row_scores, row_labels in zip(scores.tolist(), labels.tolist(), strict=True)
        ]

    # ------------------------------------------------------------------ writing

    def add(self, ids: Sequence[int] | np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace: an id already stored gets the new vector, never a second entry.

        ``vectors`` is ``(len(ids), d)`` (or ``(d,)`` for one id), floating point, finite and L2-normalised,
        else ValueError. Ids are non-negative int64 (FAISS reserves -1 for "no result"). When one call
        repeats an id, the last occurrence wins, as if the rows had been upserted one after another.
        May change the layout (see the module docstring) before it returns; searches and other writes go
        on meanwhile, but this call pays for the k-means training: seconds when it crosses the default
        threshold, minutes when a retrain near 1M vectors runs on one FAISS thread. Call it from a
        background worker, not from a request. Should that build fail (out of memory, say), the write
        itself has been applied, the old layout keeps serving, and the error propagates.
        """
        id_array = _as_ids(ids)
        matrix = self._as_vectors(vectors, "vectors", check_norm=True)
        if len(id_array) != len(matrix):
            raise ValueError(f"got {len(id_array)} ids but {len(matrix)} vectors")
        if not len(id_array):
            return
        # Sorted and distinct from here on; for a repeated id the last occurrence wins (unique over the
        # reversed ids finds each id's last position).
        unique_ids, reversed_positions = np.unique(id_array[::-1], return_index=True)
        positions = len(id_array) - 1 - reversed_positions
        if len(positions) != len(id_array) or np.any(positions != np.arange(len(positions))):
            matrix = matrix[positions]
        id_array = unique_ids
        with self._lock.write():
            self._use_threads()
            existing = id_array[_isin_sorted(self._ids, id_array)]
            _upsert(self._index, id_array, matrix, existing)
            self._ids = _merge_sorted(self._ids, np.setdiff1d(id_array, existing, assume_unique=True))
            if self._journal is not None:
                self._journal.append(("add", id_array, matrix))
            relayout = self._wanted_layout() is not None
        if relayout:
            self._relayout()

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        """Remove these ids; unknown ones are ignored. Returns how many were removed."""
        id_array = np.unique(_as_ids(ids))
        if not len(id_array):
            return 0
        with self._lock.write():
            present = id_array[_isin_sorted(self._ids, id_array)]
            if not len(present):
                return 0
            self._use_threads()
            removed = int(self._index.remove_ids(present))
            if removed != len(present):  # pragma: no cover - would mean the id list and FAISS disagree
                raise RuntimeError(f"FAISS removed {removed} of {len(present)} ids it should hold")
            self._ids = np.delete(self._ids, np.searchsorted(self._ids, present))
            if self._journal is not None:
                self._journal.append(("remove", present, None))
            relayout = self._wanted_layout() is not None
        if relayout:
            self._relayout()
        return len(present)

    # ------------------------------------------------------------------ saving and loading

    def save(self, directory: Path) -> None:
        """Write ``index.faiss`` and ``meta.json`` into ``directory``, replacing any earlier save atomically.

        Both files are written into a temporary sibling directory and fsynced, then that directory takes
        ``directory``'s place in one step (an atomic exchange on Linux; elsewhere two renames), so a crash
        leaves either the old save or the new one, never a mixture or a half-written file. Searches go on
        while the index is written; writes wait.
        """
        directory = Path(directory)
        if directory.exists() and not directory.is_dir():
            raise NotADirectoryError(f"{directory} exists and is not a directory")
        directory.parent.mkdir(parents=True, exist_ok=True)
        temporary = directory.parent / f".{directory.name}.tmp-{uuid.uuid4().hex[:12]}"
        temporary.mkdir()
        try:
            with self._lock.read():
                faiss.write_index(self._index, str(temporary / INDEX_FILE))
                meta = self._meta()
            _fsync_path(temporary / INDEX_FILE)
            with (temporary / META_FILE).open("w", encoding="utf-8") as handle:
                json.dump(meta, handle, indent=2)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            _fsync_path(temporary)
            _replace_directory(temporary, directory)
        finally:
            shutil.rmtree(temporary, ignore_errors=True)  # gone already unless something failed

    @classmethod
    def load(
        cls,
        directory: Path,
        *,
        model_name: str | None = None,
        dimension: int | None = None,
        faiss_threads: int | None = 1,
    ) -> VectorIndex:
        """Read a saved index; its layout, threshold, nprobe setting and revision come from ``meta.json``.

        Raises FileNotFoundError when there is no saved index, IndexMismatchError when it was built with a
        different model or dimension than given (its vectors would not be comparable with new ones), and
        ValueError when the files are inconsistent.
        """
        directory = Path(directory)
        meta_path, index_path = directory / META_FILE, directory / INDEX_FILE
        for path in (meta_path, index_path):
            if not path.is_file():
                raise FileNotFoundError(f"no saved vector index: {path} is missing")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            saved_model, saved_dimension = str(meta["model"]), int(meta["dimension"])
            threshold, nprobe_setting = int(meta.get("approximate_threshold", 50_000)), meta.get("nprobe_setting")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{meta_path} is not a vector index meta.json: {exc!r}") from exc
        if model_name is not None and saved_model != model_name:
            raise IndexMismatchError(f"index at {directory} was built with model {saved_model!r}, not {model_name!r}")
        if dimension is not None and saved_dimension != dimension:
            raise IndexMismatchError(f"index at {directory} has dimension {saved_dimension}, not {dimension}")
        loaded = cls(
            saved_dimension,
            saved_model,
            approximate_threshold=threshold,
            nprobe=nprobe_setting,
            faiss_threads=faiss_threads,
        )
        try:
            index = faiss.read_index(str(index_path))
        except RuntimeError as exc:  # FAISS reports a truncated or foreign file this way
            raise ValueError(f"{index_path} is not a readable FAISS index: {exc}") from exc
        kind = _layout_of(index)
        if kind is None or index.d != saved_dimension or index.ntotal != meta.get("count"):
            raise ValueError(f"{index_path} does not match {meta_path} (type, dimension or count)")
        ids = np.sort(_ids_of(index, kind))
        if len(ids) and (ids[0] < 0 or np.any(ids[1:] == ids[:-1])):
            raise ValueError(f"{index_path} holds negative or repeated ids")
        loaded._index, loaded._kind, loaded._ids = index, kind, ids
        if kind == IVF:
            loaded._nlist = int(index.nlist)
            loaded._trained_count = int(meta.get("trained_count", index.ntotal))
            index.nprobe = loaded._effective_nprobe(loaded._nlist)
        loaded.revision = int(meta.get("revision", 0))
        return loaded

    # ------------------------------------------------------------------ internals

    def _use_threads(self) -> None:
        """Apply ``faiss_threads`` in the calling thread (OpenMP's setting is per thread); ~0.5 µs."""
        if self.faiss_threads is not None:
            faiss.omp_set_num_threads(self.faiss_threads)

    def _new_flat(self) -> Any:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))

    def _effective_nprobe(self, nlist: int) -> int:
        wanted = self._nprobe_setting if self._nprobe_setting is not None else default_nprobe(nlist)
        return max(1, min(wanted, nlist))

    def _meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "format": FORMAT_VERSION,
            "model": self.model_name,
            "dimension": self.dimension,
            "count": int(self._index.ntotal),
            "index_type": self._kind,
            "metric": "inner_product",
            "revision": int(self.revision),
            "approximate_threshold": self.approximate_threshold,
            "nprobe_setting": self._nprobe_setting,
            "faiss_version": faiss.__version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if self._kind == IVF:
            meta |= {"nlist": self._nlist, "nprobe": self._effective_nprobe(self._nlist)}
            meta["trained_count"] = self._trained_count
        return meta

    def _wanted_layout(self) -> str | None:
        """The layout the index should move to now, or None. Called with the lock held."""
        count = len(self._ids)
        if self._kind == FLAT:
            return IVF if count > self.approximate_threshold else None
        if count < self.approximate_threshold * FLAT_BELOW_FRACTION:
            return FLAT
        if count >= RETRAIN_GROWTH * self._trained_count:
            return IVF
        return None

    def _relayout(self) -> None:
        """Build the wanted layout beside the live index and swap it in; searches and writes go on meanwhile.

        One thread does this at a time. A writer that finds one under way leaves the work to it; the check
        after the release catches a write that came in just as that thread was finishing.
        """
        while True:
            if not self._rebuilding.acquire(blocking=False):
                return
            try:
                self._relayout_while_wanted()
            finally:
                self._rebuilding.release()
            with self._lock.read():
                if self._wanted_layout() is None:
                    return

    def _relayout_while_wanted(self) -> None:
        while True:
            with self._lock.read():  # no writer runs: the copy and the journal start at the same state
                target = self._wanted_layout()
                if target is None:
                    return
                self._use_threads()
                ids, vectors = _ids_of(self._index, self._kind), _vectors_of(self._index, self._kind)
                self._journal = []
            try:
                index, nlist = self._build(target, ids, vectors)
                trained_on = len(ids)
                del ids, vectors
                with self._lock.write():
                    self._use_threads()
                    for operation, entry_ids, entry_vectors in self._journal:
                        if operation == "add":
                            _upsert(index, entry_ids, entry_vectors, entry_ids)
                        else:
                            index.remove_ids(entry_ids)
                    if index.ntotal != len(self._ids):  # pragma: no cover - a bug, not an input error
                        raise RuntimeError(f"rebuilt index holds {index.ntotal} vectors, expected {len(self._ids)}")
                    if target == IVF:  # here, not in _build: the nprobe setter may have run meanwhile
                        index.nprobe = self._effective_nprobe(nlist)
                    if self._kind == IVF and target == IVF:
                        self.retrains += 1
                    self._index, self._kind, self._nlist = index, target, nlist
                    self.layouts_built += 1
                    # What the lists were trained on, not what the journal added since: writes that raced a
                    # long build would otherwise push the next retrain out of reach.
                    self._trained_count = trained_on if target == IVF else 0
                    self._journal = None
            finally:
                if self._journal is not None:  # the build failed: the live index stays, the journal goes
                    with self._lock.write():
                        self._journal = None

    def _build(self, kind: str, ids: np.ndarray, vectors: np.ndarray) -> tuple[Any, int]:
        """A new index of ``kind`` holding these vectors, and its nlist (0 for flat). Runs without the lock."""
        self._use_threads()
        if kind == FLAT:
            index = self._new_flat()
            if len(ids):
                index.add_with_ids(vectors, ids)
            return index, 0
        nlist = lists_for(len(ids))
        quantizer = faiss.IndexFlatIP(self.dimension)
        index = faiss.IndexIVFFlat(quantizer, self.dimension, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.max_points_per_centroid = TRAIN_POINTS_PER_LIST  # FAISS samples (seeded) down to this
        index.cp.min_points_per_centroid = 1  # small thresholds are deliberate; don't warn about them
        index.train(vectors)
        index.add_with_ids(vectors, ids)
        return index, nlist

    def _as_vectors(self, vectors: np.ndarray, what: str, *, check_norm: bool) -> np.ndarray:
        array = np.asarray(vectors)
        if array.dtype.kind != "f":
            raise ValueError(f"{what} must be floating point, got dtype {array.dtype}")
        if array.ndim == 1:
            array = array[np.newaxis, :]
        if array.ndim != 2 or array.shape[1] != self.dimension:
            raise ValueError(f"{what} must have shape (n, {self.dimension}), got {np.shape(vectors)}")
        array = np.ascontiguousarray(array, dtype=np.float32)
        if not np.isfinite(array).all():
            raise ValueError(f"{what} contain NaN or infinite values")
        if check_norm and len(array):
            norms = np.sqrt(np.einsum("ij,ij->i", array, array))
            worst = float(np.max(np.abs(norms - 1.0)))
            if worst > NORM_TOLERANCE:
                raise ValueError(f"{what} must be L2-normalised (a norm is off by {worst:.3g})")
        return array


def lists_for(count: int) -> int:
    """IVF lists for ``count`` vectors: ``4·sqrt(count)`` rounded, at least 1 and at most ``count``."""
    return max(1, min(count, round(LISTS_PER_SQRT_N * math.sqrt(count))))


def default_nprobe(nlist: int) -> int:
    """Lists probed per search unless set: ``max(16, nlist / 128)``, capped at ``nlist``.

    Measured with ``bench/index_speed.py`` on all-MiniLM-L6-v2 embeddings of the shared data sets:
    recall@10 against exact search was 0.95-0.98 at nprobe 4-8 and ≥ 0.984 at 16 for 20k-200k vectors
    (nlist 577-1789), and 0.995 at 32 for 1M (nlist 4000). The default keeps a margin for data less
    clustered than those intent sets while a 1M search stays around 2 ms.
    """
    return max(1, min(nlist, max(16, math.ceil(nlist / 128))))


def _check_nprobe(nprobe: int | None) -> None:
    if nprobe is not None and (isinstance(nprobe, bool) or not isinstance(nprobe, int) or nprobe < 1):
        raise ValueError(f"nprobe must be None or a positive integer, got {nprobe!r}")


def _as_ids(ids: Sequence[int] | np.ndarray) -> np.ndarray:
    array = np.asarray(ids)
    if array.size == 0:
        return np.empty(0, dtype=np.int64)
    if array.ndim != 1 or array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"ids must be a 1-D sequence of integers, got dtype {array.dtype} shape {array.shape}")
    if array.dtype == np.uint64 and int(array.max()) > _INT64_MAX:
        raise ValueError("ids must fit in int64")
    array = array.astype(np.int64, copy=False)
    if int(array.min()) < 0:
        raise ValueError("ids must be non-negative (FAISS uses -1 for 'no result')")
    return array


def _isin_sorted(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Boolean mask: which of ``ids`` are in ``sorted_ids`` (binary search, no hashing of the big array)."""
    if not len(sorted_ids):
        return np.zeros(len(ids), dtype=bool)
    positions = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return sorted_ids[positions] == ids


def _merge_sorted(sorted_ids: np.ndarray, new_ids: np.ndarray) -> np.ndarray:
    """Insert distinct ``new_ids`` (none already present) into ``sorted_ids``: O(n + m log m), not a re-sort."""
    if not len(new_ids):
        return sorted_ids
    new_ids = np.sort(new_ids)  # np.insert keeps the given order among values landing in the same gap
    return np.insert(sorted_ids, np.searchsorted(sorted_ids, new_ids), new_ids)


def _upsert(index: Any, ids: np.ndarray, vectors: np.ndarray, existing: np.ndarray) -> None:
    """Replace ``existing`` ids (a subset of ``ids``) and add the rest. FAISS itself would keep duplicates."""
    if len(existing):
        index.remove_ids(existing)
    index.add_with_ids(vectors, ids)


def _layout_of(index: Any) -> str | None:
    if isinstance(index, faiss.IndexIDMap2) and isinstance(faiss.downcast_index(index.index), faiss.IndexFlatIP):
        return FLAT
    if isinstance(index, faiss.IndexIVFFlat) and index.metric_type == faiss.METRIC_INNER_PRODUCT:
        return IVF
    return None


def _ids_of(index: Any, kind: str) -> np.ndarray:
    """Every id in ``index``, in its storage order (the order ``_vectors_of`` returns the vectors in)."""
    if kind == FLAT:
        return faiss.vector_to_array(index.id_map).astype(np.int64, copy=True)
    lists = index.invlists
    chunks = [np.empty(0, dtype=np.int64)]
    for list_no in range(index.nlist):
        size = lists.list_size(list_no)
        if size:
            pointer = lists.get_ids(list_no)
            chunks.append(faiss.rev_swig_ptr(pointer, size).copy())
            lists.release_ids(list_no, pointer)
    return np.concatenate(chunks)


def _vectors_of(index: Any, kind: str) -> np.ndarray:
    """Every stored vector, in the order of ``_ids_of``: an IVFFlat list's codes are the raw float32 vectors."""
    if kind == FLAT:
        return index.index.reconstruct_n(0, index.ntotal)
    lists, dimension = index.invlists, index.d
    chunks = [np.empty((0, dimension), dtype=np.float32)]
    for list_no in range(index.nlist):
        size = lists.list_size(list_no)
        if size:
            pointer = lists.get_codes(list_no)
            codes = faiss.rev_swig_ptr(pointer, size * lists.code_size)
            chunks.append(codes.view(np.float32).reshape(size, dimension).copy())
            lists.release_codes(list_no, pointer)
    return np.concatenate(chunks)


def _fsync_path(path: Path) -> None:
    """fsync a file or a directory (a directory's entries are durable only once it is fsynced)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _replace_directory(source: Path, target: Path) -> None:
    """Put ``source`` where ``target`` is, in one step where the OS allows; ``source`` ends up gone."""
    try:
        os.rename(source, target)  # atomic when target does not exist (or is an empty directory)
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
        if _exchange(source, target):
            shutil.rmtree(source)  # now holds the old save
        else:
            old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:12]}"
            os.rename(target, old)
            os.rename(source, target)
            shutil.rmtree(old, ignore_errors=True)
    with suppress(OSError):  # some file systems cannot fsync a directory
        _fsync_path(target.parent)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically with Linux's ``renameat2(RENAME_EXCHANGE)``; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # pragma: no cover - glibc < 2.28 or another libc
        return False
    at_fdcwd, rename_exchange = -100, 2
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    if renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange) == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # pragma: no cover - file system without it
        return False
    raise OSError(error, os.strerror(error), str(second))
