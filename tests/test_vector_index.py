"""VectorIndex over real FAISS: upsert and remove by id, search, the switch to IVF, atomic save/load, threads."""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pytest

from knowledge import Hit, IndexMismatchError, TextEmbedder, VectorIndex

DIM = 32


def unit_vectors(count: int, seed: int = 0, dimension: int = DIM) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def filled(count: int, **kwargs: Any) -> tuple[VectorIndex, np.ndarray, np.ndarray]:
    index = VectorIndex(DIM, "test-model", **kwargs)
    ids = np.arange(1, count + 1, dtype=np.int64) * 10
    vectors = unit_vectors(count)
    index.add(ids, vectors)
    return index, ids, vectors


def top_ids(hits: list[list[Hit]]) -> list[int]:
    return [row[0].id for row in hits]


def test_add_search_and_membership() -> None:
    index, ids, vectors = filled(50)
    assert (len(index), index.index_type, index.revision) == (50, "flat", 0)
    assert 10 in index and np.int64(500) in index
    assert 11 not in index and "10" not in index and True not in index and 2**70 not in index and -1 not in index
    assert index.ids().dtype == np.int64 and index.ids().tolist() == ids.tolist()
    hits = index.search(vectors[:5], k=3)
    assert len(hits) == 5 and all(len(row) == 3 for row in hits)
    assert top_ids(hits) == ids[:5].tolist()
    assert hits[0][0].score == pytest.approx(1.0, abs=1e-5)
    assert all(row[0].score >= row[1].score >= row[2].score for row in hits)
    assert isinstance(hits[0][0].id, int) and isinstance(hits[0][0].score, float)


def test_upsert_replaces_instead_of_duplicating() -> None:
    index, ids, vectors = filled(20)
    index.add([ids[0]], vectors[5:6])  # id 10 now has the vector of id 60
    assert len(index) == 20
    hits = index.search(vectors[5], k=20)[0]
    assert sorted(hit.id for hit in hits[:2]) == [10, 60]
    assert len({hit.id for hit in hits}) == len(hits) == 20
    assert all(hit.id != 10 for hit in index.search(vectors[0], k=20)[0][:1])


def test_repeated_id_in_one_call_keeps_the_last_vector() -> None:
    index = VectorIndex(DIM, "test-model")
    vectors = unit_vectors(3)
    index.add([7, 8, 7], vectors)
    assert len(index) == 2
    assert index.search(vectors[2], k=1)[0][0] == Hit(7, pytest.approx(1.0, abs=1e-5))  # type: ignore[arg-type]
    assert index.search(vectors[0], k=2)[0][0].score < 0.99


def test_remove_counts_only_known_ids() -> None:
    index, ids, vectors = filled(30)
    assert index.remove([ids[0], ids[1], ids[1], 999_999]) == 2
    assert index.remove([ids[0]]) == 0 and index.remove([]) == 0
    assert len(index) == 28 and ids[0] not in index
    assert all(hit.id not in (ids[0], ids[1]) for hit in index.search(vectors[0], k=30)[0])


def test_search_k_min_score_and_query_shapes() -> None:
    index, ids, vectors = filled(10)
    assert [len(row) for row in index.search(vectors[:2], k=100)] == [10, 10]  # never FAISS's -1 padding
    one = index.search(vectors[3], k=4)
    assert len(one) == 1 and one[0][0].id == ids[3]
    floored = index.search(vectors[3], k=10, min_score=0.5)[0]
    assert floored[0].id == ids[3] and all(hit.score >= 0.5 for hit in floored)
    assert len(floored) < 10  # random 32-d vectors are nearly orthogonal
    assert index.search(vectors[3], k=10, min_score=1.01) == [[]]
    assert index.search(np.empty((0, DIM), dtype=np.float32)) == []


def test_empty_index_search() -> None:
    index = VectorIndex(DIM, "test-model")
    assert index.search(unit_vectors(1)[0]) == [[]]
    assert index.search(unit_vectors(2)) == [[], []]
    assert len(index) == 0 and index.ids().tolist() == []


def test_switches_to_ivf_past_threshold_and_keeps_every_vector() -> None:
    index = VectorIndex(DIM, "test-model", approximate_threshold=200, nprobe=64)
    vectors = unit_vectors(300)
    ids = np.arange(300, dtype=np.int64) + 1_000
    for start in range(0, 300, 50):
        index.add(ids[start : start + 50], vectors[start : start + 50])
        assert index.index_type == ("flat" if start + 50 <= 200 else "ivf")
    assert index.nlist == round(4 * np.sqrt(250)) == 63
    assert index.nprobe == 63  # the setting (64), capped at nlist
    assert index.ids().tolist() == ids.tolist()
    hits = index.search(vectors, k=1)
    assert top_ids(hits) == ids.tolist()
    assert min(row[0].score for row in hits) == pytest.approx(1.0, abs=1e-5)


def test_upsert_and_remove_after_the_switch() -> None:
    index, ids, vectors = filled(300, approximate_threshold=200, nprobe=1_000)
    assert index.index_type == "ivf"
    replacement = unit_vectors(1, seed=99)
    index.add([ids[0]], replacement)
    assert len(index) == 300
    hits = index.search(replacement, k=300)[0]
    assert hits[0].id == ids[0] and len({hit.id for hit in hits}) == len(hits)
    assert index.search(vectors[0], k=1)[0][0].id != ids[0]
    assert index.remove(ids[1:11]) == 10 and len(index) == 290
    assert not set(ids[1:11].tolist()) & {hit.id for row in index.search(vectors[:20], k=5) for hit in row}
    index.add([5], vectors[1])  # a new id lands in the trained IVF without a rebuild
    assert index.search(vectors[1], k=1)[0][0].id == 5 and index.index_type == "ivf"


def test_goes_back_to_flat_when_shrunk_and_retrains_when_grown() -> None:
    index, ids, vectors = filled(250, approximate_threshold=200, nprobe=1_000)
    first_nlist = index.nlist
    assert index.index_type == "ivf" and first_nlist is not None
    more = unit_vectors(800, seed=1)
    index.add(np.arange(800) + 10_000, more)  # 1,050 ≥ 4 x 250: retrained with more lists
    assert index.index_type == "ivf" and index.nlist == round(4 * np.sqrt(1_050)) > first_nlist
    assert (index.layouts_built, index.retrains) == (2, 1)
    assert top_ids(index.search(more[:50], k=1)) == list(range(10_000, 10_050))
    index.remove(np.arange(800) + 10_000)
    index.remove(ids[:160])  # 90 left, below half the threshold: exact again
    assert index.index_type == "flat" and index.nlist is None and len(index) == 90
    assert (index.layouts_built, index.retrains) == (3, 1)
    assert top_ids(index.search(vectors[160:], k=1)) == ids[160:].tolist()


def test_writes_during_a_relayout_are_replayed_onto_the_new_index(monkeypatch: pytest.MonkeyPatch) -> None:
    index, ids, vectors = filled(200, approximate_threshold=200, nprobe=1_000)
    extra, replacement = unit_vectors(2, seed=5)
    build = VectorIndex._build

    def build_with_concurrent_writes(self: VectorIndex, *args: Any) -> Any:
        built = build(self, *args)
        # The old index still serves; these writes land there and in the journal, not in ``built``.
        self.add([77], extra)
        self.add([ids[0]], replacement)
        self.remove([ids[1]])
        assert self.index_type == "flat"
        return built

    monkeypatch.setattr(VectorIndex, "_build", build_with_concurrent_writes)
    index.add([5], unit_vectors(1, seed=6))  # 201 > 200: switches, with the writes above in between
    assert index.index_type == "ivf" and len(index) == 201
    assert ids[1] not in index and 77 in index
    assert index.search(extra, k=1)[0][0].id == 77
    assert index.search(replacement, k=1)[0][0].id == ids[0]
    assert ids[1] not in {hit.id for hit in index.search(vectors[1], k=201)[0]}
    assert len({hit.id for hit in index.search(vectors[0], k=201)[0]}) == 201


@pytest.mark.parametrize("count", [40, 300], ids=["flat", "ivf"])
def test_save_and_load_roundtrip(tmp_path: Path, count: int) -> None:
    index, ids, vectors = filled(count, approximate_threshold=200, nprobe=32)
    index.revision = 42
    index.save(tmp_path / "index")
    meta = json.loads((tmp_path / "index" / "meta.json").read_text())
    assert meta["model"] == "test-model" and meta["dimension"] == DIM and meta["count"] == count
    assert meta["revision"] == 42 and meta["faiss_version"] == faiss.__version__ and meta["created_at"]
    assert meta["index_type"] == index.index_type
    if index.index_type == "ivf":
        assert (meta["nlist"], meta["nprobe"]) == (index.nlist, 32)
    loaded = VectorIndex.load(tmp_path / "index", model_name="test-model", dimension=DIM)
    assert (loaded.index_type, loaded.revision, loaded.nlist, loaded.nprobe) == (
        index.index_type,
        42,
        index.nlist,
        index.nprobe,
    )
    assert loaded.ids().tolist() == ids.tolist()
    assert loaded.search(vectors[:20], k=5) == index.search(vectors[:20], k=5)
    loaded.add([ids[0]], vectors[1])  # still upserts after loading
    assert len(loaded) == count


def test_load_refuses_another_model_or_dimension_and_a_missing_index(tmp_path: Path) -> None:
    index, _, _ = filled(5)
    index.save(tmp_path / "index")
    with pytest.raises(IndexMismatchError, match="other-model"):
        VectorIndex.load(tmp_path / "index", model_name="other-model")
    with pytest.raises(IndexMismatchError):
        VectorIndex.load(tmp_path / "index", model_name="test-model", dimension=DIM + 1)
    with pytest.raises(ValueError):  # IndexMismatchError is a ValueError
        VectorIndex.load(tmp_path / "index", dimension=384)
    with pytest.raises(FileNotFoundError):
        VectorIndex.load(tmp_path / "absent")
    (tmp_path / "index" / "index.faiss").unlink()
    with pytest.raises(FileNotFoundError):
        VectorIndex.load(tmp_path / "index")


def test_load_reports_damaged_files_as_value_errors(tmp_path: Path) -> None:
    index, _, _ = filled(5)
    index.save(tmp_path / "index")
    faiss_file, meta_file = tmp_path / "index" / "index.faiss", tmp_path / "index" / "meta.json"
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    with pytest.raises(ValueError, match="FAISS index"):
        VectorIndex.load(tmp_path / "index")
    meta_file.write_text("{not json")
    with pytest.raises(ValueError, match=r"meta\.json"):
        VectorIndex.load(tmp_path / "index")


def test_save_overwrites_atomically_and_leaves_no_temporary_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "index"
    first, _, _ = filled(5)
    first.save(target)
    second, ids, _ = filled(12)
    second.revision = 2
    second.save(target)
    assert [path.name for path in tmp_path.iterdir()] == ["index"]
    assert sorted(path.name for path in target.iterdir()) == ["index.faiss", "meta.json"]
    assert VectorIndex.load(target).ids().tolist() == ids.tolist()

    def crash(*_: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(faiss, "write_index", crash)
    with pytest.raises(OSError, match="disk full"):
        filled(3)[0].save(target)
    assert [path.name for path in tmp_path.iterdir()] == ["index"]  # the failed save left nothing behind
    assert VectorIndex.load(target).revision == 2 and len(VectorIndex.load(target)) == 12


def test_concurrent_adds_and_searches_across_the_switch() -> None:
    index = VectorIndex(DIM, "test-model", approximate_threshold=200, nprobe=1_000)
    vectors = unit_vectors(600)
    errors: list[BaseException] = []
    done = threading.Event()

    def search() -> None:
        try:
            while not done.is_set():
                for row in index.search(vectors[:8], k=5):
                    assert len({hit.id for hit in row}) == len(row)
                    assert all(a.score >= b.score for a, b in itertools.pairwise(row))
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    def add() -> None:
        try:
            for start in range(0, 600, 20):
                index.add(np.arange(start, start + 20), vectors[start : start + 20])
                index.add([start], vectors[start])  # an upsert between the inserts
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    threads = [threading.Thread(target=search) for _ in range(3)] + [threading.Thread(target=add)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors and not any(thread.is_alive() for thread in threads)
    assert index.index_type == "ivf" and len(index) == 600
    assert top_ids(index.search(vectors, k=1)) == list(range(600))


def test_random_writes_from_two_threads_match_a_plain_dict() -> None:
    """Unsorted and repeated ids, upserts and removes from two writers (odd and even ids), while searches
    run: through flat → IVF → retrained IVF → flat, the index ends exactly like a dict of the same writes."""
    dimension = 16
    index = VectorIndex(dimension, "test-model", approximate_threshold=30, nprobe=10_000)
    models: list[dict[int, np.ndarray]] = [{}, {}]
    layouts: set[tuple[str, int | None]] = set()
    errors: list[BaseException] = []
    done = threading.Event()

    def write(parity: int) -> None:
        rng = np.random.default_rng(parity)
        model = models[parity]
        try:
            # Mostly adds until a retrain has been built, then mostly removes until this writer's share is
            # down to a few (never none): the two writers add hundreds of vectors in one of the GIL's 5 ms
            # turns, so the first build may copy the index far past the threshold, and how far it must grow for
            # the retrain (four times that) is only known as it happens (a `.ci/run` here once stopped growing
            # before it came).
            growing = True
            for _ in range(3_000):
                growing = growing and index.retrains == 0
                if not growing and len(model) <= 5:
                    break
                if rng.random() < (0.8 if growing else 0.1):
                    ids = rng.integers(0, 4_000, 8) * 2 + parity
                    vectors = unit_vectors(8, seed=int(rng.integers(1 << 30)), dimension=dimension)
                    index.add(ids, vectors)
                    model.update(zip(ids.tolist(), vectors, strict=True))
                else:
                    count = min(len(model) - (0 if growing else 1), 12)
                    ids = rng.choice(sorted(model), count, replace=False) if model else []
                    index.remove(ids)
                    for id in ids:
                        del model[int(id)]
                layouts.add((index.index_type, index.nlist))
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    def search() -> None:
        try:
            while not done.is_set():
                index.search(unit_vectors(4, dimension=dimension), k=5)
                layouts.add((index.index_type, index.nlist))
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(parity,)) for parity in (0, 1)]
    searchers = [threading.Thread(target=search) for _ in range(2)]
    for thread in writers + searchers:
        thread.start()
    for thread in writers:
        thread.join(timeout=60)
    done.set()
    for thread in searchers:
        thread.join(timeout=60)
    assert not errors and not any(thread.is_alive() for thread in writers + searchers)
    assert {kind for kind, _ in layouts} == {"flat", "ivf"}
    # flat → IVF, at least one retrain, IVF → flat. Counted, not sampled: on a busy machine a short-lived
    # layout can come and go between two samples.
    assert index.retrains >= 1 and index.layouts_built >= 3
    expected = models[0] | models[1]
    assert expected and index.index_type == "flat" and index.ids().tolist() == sorted(expected)
    ids = sorted(expected)
    assert top_ids(index.search(np.stack([expected[id] for id in ids]), k=1)) == ids


def test_faiss_uses_one_thread_in_the_calling_thread() -> None:
    index, _, vectors = filled(10)
    seen: list[int] = []

    def search() -> None:
        faiss.omp_set_num_threads(2)  # OpenMP's setting is per thread: a fresh thread gets the default
        index.search(vectors[0])
        seen.append(faiss.omp_get_max_threads())

    thread = threading.Thread(target=search)
    thread.start()
    thread.join()
    assert seen == [1]


@pytest.mark.parametrize(
    ("ids", "vectors", "message"),
    [
        ([1, 2], unit_vectors(2, dimension=DIM + 1), "shape"),
        ([1, 2, 3], unit_vectors(2), "3 ids but 2 vectors"),
        ([1], unit_vectors(2), "1 ids but 2 vectors"),
        ([1, 2], unit_vectors(2).astype(np.int64), "floating point"),
        ([1, 2], unit_vectors(2) * 3, "L2-normalised"),
        ([1, 2], np.full((2, DIM), np.nan, dtype=np.float32), "NaN"),
        ([1.5, 2.0], unit_vectors(2), "integers"),
        ([-1, 2], unit_vectors(2), "non-negative"),
        ([[1, 2]], unit_vectors(2), "1-D"),
    ],
)
def test_bad_input_is_a_value_error(ids: Any, vectors: np.ndarray, message: str) -> None:
    index, _, _ = filled(3)
    with pytest.raises(ValueError, match=message):
        index.add(ids, vectors)
    assert len(index) == 3


def test_bad_search_and_constructor_arguments() -> None:
    index, _, vectors = filled(3)
    with pytest.raises(ValueError, match="shape"):
        index.search(unit_vectors(1, dimension=DIM - 1))
    with pytest.raises(ValueError, match="k must"):
        index.search(vectors[0], k=0)
    with pytest.raises(ValueError, match="NaN"):
        index.search(vectors[0], min_score=float("nan"))
    for bad in ({"approximate_threshold": 0}, {"nprobe": 0}, {"faiss_threads": 0}):
        with pytest.raises(ValueError):
            VectorIndex(DIM, "test-model", **bad)
    with pytest.raises(ValueError):
        VectorIndex(0, "test-model")


def test_real_embeddings_find_the_paraphrase(embedder: TextEmbedder, tmp_path: Path) -> None:
    entries = {
        101: "How do I reset my password?",
        102: "My new card has not arrived yet.",
        103: "I want a refund for the order I returned.",
        104: "How can I change the delivery address of my parcel?",
        105: "The mobile app crashes every time I open it.",
        106: "Can I pay by bank transfer instead of credit card?",
    }
    paraphrases = [
        "I forgot my login password and cannot sign in",
        "still waiting for the bank card you sent me",
        "please give me my money back for the item I sent back",
        "ship my package to a different address",
        "the application keeps closing as soon as I start it",
        "is a wire transfer accepted as payment?",
    ]
    index = VectorIndex(embedder.dimension, embedder.model_name)
    index.add(list(entries), embedder.encode(list(entries.values())))
    hits = index.search(embedder.encode(paraphrases), k=3)
    assert top_ids(hits) == list(entries)
    assert all(row[0].score > row[1].score for row in hits)
    index.save(tmp_path / "index")
    assert VectorIndex.load(tmp_path / "index", model_name=embedder.model_name, dimension=embedder.dimension)
    with pytest.raises(IndexMismatchError):
        VectorIndex.load(tmp_path / "index", model_name="another-model")
