"""Retrieval library: sentence embeddings and the micro-batching encoder. No web, no database."""

from knowledge.batching import EncoderWorker
from knowledge.embedder import Embedder
from knowledge.vector_index import Hit, IndexMismatchError, VectorIndex

__all__ = ["Embedder", "EncoderWorker"]
__all__ += ["Hit", "IndexMismatchError", "VectorIndex"]
