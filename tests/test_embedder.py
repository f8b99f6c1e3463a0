"""The onnx backend (the service's default) against the model as sentence-transformers runs it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.settings import Settings, default_model_path
from knowledge import Embedder, OnnxEmbedder, TextEmbedder, create_embedder
from knowledge.embedder import padding_runs
from knowledge.onnx_export import _fingerprint, _remove_other_exports

TEXTS = [
    "",
    "   where is my parcel?   ",
    "I was charged twice for order #A10234, please refund the second payment",
    "Ich möchte mein Passwort ändern, die E-Mail kommt nicht an",
    "émoji 🚀 and ÜBER-long   spacing\tand\nnewlines",
    "refund " * 400,  # past the model's 256 tokens: cut where sentence-transformers cuts it
]


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return Embedder(default_model_path()).warm_up()


def test_onnx_vectors_equal_sentence_transformers(embedder: TextEmbedder, torch_embedder: Embedder) -> None:
    assert isinstance(embedder, OnnxEmbedder)
    assert embedder.model_name == torch_embedder.model_name
    expected = torch_embedder.encode(TEXTS)
    for vectors in (embedder.encode(TEXTS), embedder.encode(TEXTS, batch_size=2)):
        assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        assert (vectors * expected).sum(axis=1).min() > 0.9999


def test_every_thread_count_gives_the_same_vectors(model_cache_dir: Path) -> None:
    onnx = OnnxEmbedder(default_model_path(), cache_dir=model_cache_dir, threads=2).warm_up()
    on_two = onnx.encode(TEXTS)
    onnx.use_threads(1)
    assert np.allclose(onnx.encode(TEXTS), on_two, atol=1e-5)
    assert onnx.encode([]).shape == (0, 384)


def test_a_batch_runs_in_parts_of_like_length_where_padding_would_cost_more() -> None:
    # Three short texts and a long one: padding the short ones to 40 tokens costs more than a second run.
    assert padding_runs([8, 8, 8, 40], run_overhead=6) == [slice(0, 3), slice(3, 4)]
    # Nearly alike lengths: one run is cheaper than two.
    assert padding_runs([16, 16, 17, 17], run_overhead=6) == [slice(0, 4)]
    # A run costing more than the padding it saves is never worth it.
    assert padding_runs([4, 8, 60], run_overhead=1_000) == [slice(0, 3)]
    assert padding_runs([4, 8, 60], run_overhead=float("inf")) == [slice(0, 3)]
    assert padding_runs([4, 8, 60], run_overhead=0) == [slice(0, 1), slice(1, 2), slice(2, 3)]
    assert padding_runs([], run_overhead=6) == [slice(0, 0)]


def test_a_batch_in_parts_gives_each_text_its_own_vector(model_cache_dir: Path) -> None:
    onnx = OnnxEmbedder(default_model_path(), cache_dir=model_cache_dir, threads=1).warm_up()
    session = onnx._session
    # Measured when the session was made (until then a batch is one run).
    assert session is not None and session.run_overhead_tokens != float("inf")
    mixed = ["refund", TEXTS[2], "where is my parcel?", TEXTS[5], TEXTS[3], "hi"]
    alone = np.vstack([onnx.encode([text]) for text in mixed])
    # Every text a run of its own, and all of them one run: the same vectors, each in its own row.
    for overhead in (0.0, 1e9):
        session.run_overhead_tokens = overhead
        assert np.allclose(onnx.encode(mixed), alone, atol=1e-5)


def test_the_export_is_made_once_and_reused(model_cache_dir: Path) -> None:
    graphs = sorted(model_cache_dir.glob("*.onnx"))
    assert len(graphs) == 1, "the session's embedder exported the model once"
    made = graphs[0].stat().st_mtime_ns
    OnnxEmbedder(default_model_path(), cache_dir=model_cache_dir).warm_up()
    assert sorted(model_cache_dir.glob("*.onnx")) == graphs and graphs[0].stat().st_mtime_ns == made


def test_a_changed_model_gets_a_new_export_key(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(default_model_path(), copy)
    before = _fingerprint(copy)
    config = copy / "config.json"
    config.write_text(config.read_text() + "\n")
    assert _fingerprint(copy) != before


def test_settings_choose_the_onnx_backend_and_its_cache(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.embedding_backend == "onnx"
    assert settings.resolved_model_cache_dir == tmp_path / "models"
    assert settings.embedding_model_path == default_model_path()
    env = {"ASSISTANT_DATA_DIR": str(tmp_path), "ASSISTANT_MODEL_CACHE_DIR": str(tmp_path / "shared")}
    assert Settings.from_env(env).resolved_model_cache_dir == tmp_path / "shared"
    with pytest.raises(ValueError, match="cache directory"):
        create_embedder("onnx", model_path=default_model_path())


def test_a_folder_that_is_no_model_fails_with_the_exporters_reason(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    with pytest.raises(RuntimeError, match=r"could not export .*not-a-model to ONNX"):
        OnnxEmbedder(folder, cache_dir=tmp_path / "cache").warm_up()
    assert not list((tmp_path / "cache").glob("*.json")), "no half export is left to be taken for a whole one"


def test_the_onnx_backend_never_loads_torch_into_its_process(model_cache_dir: Path) -> None:
    """The web process stays lean: the export runs in a process of its own, encoding needs no torch."""
    script = (
        "import sys\n"
        "from assistant.settings import default_model_path\n"
        "from knowledge import OnnxEmbedder\n"
        f"OnnxEmbedder(default_model_path(), cache_dir={str(model_cache_dir)!r}).warm_up().encode(['hello'])\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_an_existing_export_is_only_read(model_cache_dir: Path, tmp_path: Path) -> None:
    """No lock and no write once the export is there: the cache may be read-only (a container's image)."""
    cache = tmp_path / "read-only-cache"
    cache.mkdir()
    for file in model_cache_dir.iterdir():
        if not file.name.endswith(".lock"):
            shutil.copy2(file, cache / file.name)
    before = sorted(path.name for path in cache.iterdir())
    assert OnnxEmbedder(default_model_path(), cache_dir=cache).warm_up().encode(["hello"]).shape == (1, 384)
    assert sorted(path.name for path in cache.iterdir()) == before


def test_an_unwritable_cache_names_the_setting(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("")
    with pytest.raises(RuntimeError, match="ASSISTANT_MODEL_CACHE_DIR"):
        OnnxEmbedder(default_model_path(), cache_dir=blocked / "models").warm_up()


def test_a_new_export_removes_the_exports_it_replaces(tmp_path: Path) -> None:
    names = [
        "model-aaaaaaaaaaaa.onnx",
        "model-aaaaaaaaaaaa.json",
        "model-aaaaaaaaaaaa.tokenizer.json",
        "model-bbbbbbbbbbbb.onnx",  # the new one
        "model-bbbbbbbbbbbb.json",
        "model-large-cccccccccccc.onnx",  # another model whose name starts alike
    ]
    for name in names:
        (tmp_path / name).write_text("")
    _remove_other_exports(tmp_path / "model-bbbbbbbbbbbb")
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "model-bbbbbbbbbbbb.json",
        "model-bbbbbbbbbbbb.onnx",
        "model-large-cccccccccccc.onnx",
    ]
