"""A sentence-transformers model exported once to ONNX, for ONNX Runtime to run.

The export traces the model's own modules (transformer, pooling, normalisation) as sentence-transformers
loads them, so the graph computes the same vectors; only the tokenizer stays outside it. It needs torch
and the ``onnx`` package, and runs once per model: the file is cached under a key made of the model
folder's contents, so a changed model is exported again (and the export it replaces removed). It runs in a
process of its own, so the caller (the web process, on a first start) never holds torch in its memory.

    python -m knowledge.onnx_export MODEL_DIR CACHE_DIR
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from knowledge.embedder import model_folder_name

FORMAT = 2
# Shorter than the 180 s a model process is given to start.
EXPORT_TIMEOUT_SECONDS = 150
OPSET = 17
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "sentence_embedding"


@dataclass(frozen=True)
class ExportedModel:
    """The files of one export: the graph, the tokenizer it expects and what the runtime must know."""

    graph: Path
    tokenizer: Path
    inputs: tuple[str, ...]
    max_seq_length: int
    padding_side: str
    pad_token: str
    pad_id: int
    dimension: int


def exported_model(model_path: str | Path, cache_dir: str | Path) -> ExportedModel:
    """The cached export of the model at ``model_path``, made first if there is none. Processes that start
    together wait for one export rather than each making its own; an export that exists is only read, so
    the cache may be read-only once it holds it."""
    model_path = Path(model_path)
    if not model_path.is_dir():
        raise FileNotFoundError(f"embedding model directory not found: {model_path}")
    cache_dir = Path(cache_dir)
    stem = cache_dir / f"{model_folder_name(model_path)}-{_fingerprint(model_path)}"
    meta_path = stem.with_suffix(".json")
    if not meta_path.is_file():
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            with _exclusive(stem.with_suffix(".lock")):
                if not meta_path.is_file():
                    _export_in_child(model_path, stem)
                    _remove_other_exports(stem)
        except OSError as exc:
            raise RuntimeError(
                f"cannot write the ONNX export of {model_path} to {cache_dir} ({exc.strerror or exc}); "
                "set ASSISTANT_MODEL_CACHE_DIR to a writable directory"
            ) from exc
    meta = json.loads(meta_path.read_text())
    return ExportedModel(
        graph=stem.with_suffix(".onnx"),
        tokenizer=stem.with_suffix(".tokenizer.json"),
        inputs=tuple(meta["inputs"]),
        max_seq_length=int(meta["max_seq_length"]),
        padding_side=str(meta["padding_side"]),
        pad_token=str(meta["pad_token"]),
        pad_id=int(meta["pad_id"]),
        dimension=int(meta["dimension"]),
    )


def _export_in_child(model_path: Path, stem: Path) -> None:
    """torch is loaded by the child alone. ``-P`` and an explicit path: the working directory (the data
    volume, in the image) must not be able to shadow this package."""
    search_path = [str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")]
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(part for part in search_path if part))
    try:
        exporting = subprocess.run(
            [sys.executable, "-P", "-m", "knowledge.onnx_export", "--stem", str(stem), str(model_path)],
            capture_output=True,
            text=True,
            env=environment,
            timeout=EXPORT_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"exporting {model_path} to ONNX took longer than {EXPORT_TIMEOUT_SECONDS} s") from exc
    if exporting.returncode != 0 or not stem.with_suffix(".json").is_file():
        last = exporting.stderr.strip().splitlines()[-1:] or ["no message"]
        raise RuntimeError(f"could not export {model_path} to ONNX (exit code {exporting.returncode}): {last[0]}")


def _remove_other_exports(stem: Path) -> None:
    """Earlier exports of the same model (made before it was reinstalled or changed) are never read again."""
    model_name = stem.name.rsplit("-", 1)[0]
    for path in stem.parent.glob(f"{model_name}-*"):
        other = path.name.split(".", 1)[0]
        if other != stem.name and other.rsplit("-", 1)[0] == model_name:
            path.unlink(missing_ok=True)


def _export(model_path: Path, stem: Path) -> None:
    # The model is on disk; never let a library reach for a hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True).eval()
    tokenizer = model.tokenizer
    sample = tokenizer(["an example", "a second, somewhat longer example text"], padding=True, return_tensors="pt")
    inputs = tuple(name for name in INPUT_NAMES if name in sample)

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            return self.model(dict(zip(inputs, tensors, strict=True)))[OUTPUT_NAME]

    graph = stem.with_suffix(".onnx")
    staged = _staging(graph)
    try:
        with warnings.catch_warnings(), torch.inference_mode():
            # The tracing exporter warns about constructs it handles; the equivalence test is the check.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                SentenceEmbedding(),
                tuple(sample[name] for name in inputs),
                str(staged),
                input_names=list(inputs),
                output_names=[OUTPUT_NAME],
                dynamic_axes={name: {0: "batch", 1: "tokens"} for name in inputs} | {OUTPUT_NAME: {0: "batch"}},
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(staged, graph)
    finally:
        staged.unlink(missing_ok=True)
    _write_atomic(stem.with_suffix(".tokenizer.json"), tokenizer.backend_tokenizer.to_str())
    meta: dict[str, Any] = {
        "format": FORMAT,
        "source": str(model_path.resolve()),
        "inputs": list(inputs),
        "max_seq_length": int(model.max_seq_length),
        "padding_side": tokenizer.padding_side,
        "pad_token": tokenizer.pad_token,
        "pad_id": int(tokenizer.pad_token_id),
        "dimension": int(model.get_embedding_dimension()),
        "torch": torch.__version__,
        "opset": OPSET,
    }
    # Written last: its presence says the export is whole.
    _write_atomic(stem.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")


def _fingerprint(model_path: Path) -> str:
    """By content: file times change when an image layer or a reinstall copies the same files."""
    digest = hashlib.sha256(f"{FORMAT}".encode())
    for file in sorted(path for path in model_path.rglob("*") if path.is_file()):
        digest.update(f"{file.relative_to(model_path).as_posix()}:{file.stat().st_size}:".encode())
        with file.open("rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()[:12]


@contextlib.contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # no advisory locks here: concurrent exports still replace each other atomically
        yield
        return
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _staging(path: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    os.close(fd)
    Path(name).chmod(0o644)  # readable like any other model file, not mkstemp's owner-only
    return Path(name)


def _write_atomic(path: Path, text: str) -> None:
    staged = _staging(path)
    try:
        with staged.open("w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)


def main(arguments: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Export a sentence-transformers model to ONNX (cached).")
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("cache_dir", type=Path, nargs="?")
    parser.add_argument("--stem", type=Path, help="(internal) export to exactly these files, without the cache lock")
    args = parser.parse_args(arguments)
    if args.stem is not None:
        _export(args.model_dir, args.stem)
    elif args.cache_dir is not None:
        print(exported_model(args.model_dir, args.cache_dir).graph)
    else:
        parser.error("give a cache directory")


if __name__ == "__main__":
    main()
