"""Retrieval library: sentence embeddings and the micro-batching encoder. No web, no database."""

from knowledge.batching import EncoderWorker
from knowledge.embedder import Embedder

__all__ = ["Embedder", "EncoderWorker"]
