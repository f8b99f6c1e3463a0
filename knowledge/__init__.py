"""Retrieval library: sentence embeddings and the micro-batching encoder. No web, no database."""

from knowledge.batching import EncoderWorker
from knowledge.embedder import E5Embedder, Embedder, OnnxEmbedder, TextEmbedder, create_embedder
from knowledge.vector_index import Hit, IndexMismatchError, VectorIndex

__all__ = ["E5Embedder", "Embedder", "EncoderWorker", "OnnxEmbedder", "TextEmbedder", "create_embedder"]
__all__ += ["Hit", "IndexMismatchError", "VectorIndex"]
