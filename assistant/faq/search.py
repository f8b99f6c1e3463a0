"""The portal's FAQ search: one trip through the shared encoder, answered from memory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import numpy as np

from assistant.auth.rate_limit import RateLimiter
from assistant.errors import InvalidInput
from assistant.faq.models import FaqSearchResult
from assistant.faq.service import portal_hits
from assistant.indexing.models import Collection
from assistant.indexing.service import KnowledgeIndexes
from knowledge import EncoderWorker
from knowledge.vector_index import Hit

# Every search fetches this many and each request keeps its own k: the batch shares one index call.
MAX_K = 20
# Queries per encoder call in ``search_many``: live requests get their turn between slices.
SLICE = 256


class PortalSearch:
    def __init__(
        self,
        *,
        indexes: KnowledgeIndexes,
        encoder: EncoderWorker,
        min_score: float,
        model_text_chars: int,
        rate_limiter: RateLimiter,
        language_of: Callable[[str], str | None] = lambda _: None,
    ) -> None:
        self.language_of = language_of
        self.rate_limiter = rate_limiter
        self.indexes = indexes
        self.encoder = encoder
        self.min_score = min_score
        self.model_text_chars = model_text_chars

    async def search(self, query: str, k: int) -> FaqSearchResult:
        if not query.strip():
            raise InvalidInput("The query is empty: give the customer's question in q.", code="empty_query")
        # Awaited on the event loop: no handler thread is tied up while the model works, and the query's
        # language is told meanwhile.
        future = self.encoder.submit([query[: self.model_text_chars]], then=self.search_batch)
        language = self.language_of(query)
        hits: list[Hit] = (await asyncio.wrap_future(future))[0]
        return self._result(query, hits, k, language=language)

    def search_many(self, queries: Sequence[str], k: int) -> list[FaqSearchResult]:
        """Blocking: many queries answered as the portal would answer each (a search history to replay)."""
        results: list[FaqSearchResult] = []
        for start in range(0, len(queries), SLICE):
            part = queries[start : start + SLICE]
            found = self.encoder.run([query[: self.model_text_chars] for query in part], then=self.search_batch)
            results += [
                self._result(query, hits, k, language=self.language_of(query))
                for query, hits in zip(part, found, strict=True)
            ]
        return results

    def _result(self, query: str, hits: list[Hit], k: int, *, language: str | None) -> FaqSearchResult:
        documents = self.indexes.documents(Collection.faq.value)
        return FaqSearchResult(
            query=query, language=language, results=portal_hits(documents.get, hits, k, language=language)
        )

    def search_batch(self, texts: list[str], vectors: np.ndarray) -> list[list[Hit]]:
        """On the encoder thread, one index call for the whole batch."""
        return self.indexes.search(Collection.faq.value, vectors, MAX_K, min_score=self.min_score)
