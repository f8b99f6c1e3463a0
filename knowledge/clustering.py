"""Grouping texts by meaning when nobody says how many groups there are.

K-means on the (L2-normalised) sentence vectors, with the number of clusters chosen by the data: the
k that maximises the mean silhouette (cosine) over a geometric grid of candidates from 2 to √n,
measured on one fixed sample so that every candidate is judged on the same points. The √n bound is the
usual rule of thumb for the most clusters n points support; without it the silhouette of sentence
vectors keeps creeping up as topics split into paraphrase groups (seen on BANKING77: still rising at
300 clusters for 10,000 queries). Nothing is tuned per desk.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

SILHOUETTE_SAMPLE = 3_000


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # cluster of each vector, 0..k-1
    centroids: np.ndarray  # L2-normalised mean vector of each cluster
    k: int
    # Candidate k → mean silhouette: how the count was chosen.
    silhouettes: dict[int, float] = field(default_factory=dict)


GRID_RATIO = 1.4


def candidate_counts(n: int, *, max_clusters: int) -> list[int]:
    """A geometric grid from 2 to the smaller of ``max_clusters`` and √n."""
    upper = min(max_clusters, math.isqrt(n))
    counts: list[int] = []
    k = 2.0
    while round(k) <= upper:
        if not counts or round(k) != counts[-1]:
            counts.append(round(k))
        k *= GRID_RATIO
    if upper >= 2 and (not counts or counts[-1] != upper):
        counts.append(upper)
    return counts


def cluster_by_meaning(
    vectors: np.ndarray,
    *,
    max_clusters: int = 300,
    seed: int = 0,
    n_init: int = 2,
    known_topics: np.ndarray | None = None,
) -> Clustering:
    """Cluster normalised vectors; k chosen by the silhouette rule (see the module's docstring).

    ``known_topics``: vectors of topics already known (published FAQ entries). Each that is the closest
    known topic of some vector seeds a cluster of its own, on top of the k the silhouette chose: the
    texts about known topics gather there, and the k clusters are left to split the rest finely. Measured
    on BANKING77 and Bitext (six seeds each) with FAQ entries for 65% of the intents: uncovered intents
    found in the top of the gap report 114 → 125 of 162 and 45 → 46 of 54 (`bench.gap_report`)."""
    from sklearn.cluster import KMeans, kmeans_plusplus
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    n = len(vectors)
    if n < 6:
        raise ValueError("clustering needs at least 6 texts")
    rng = np.random.default_rng(seed)
    sample = rng.choice(n, min(n, SILHOUETTE_SAMPLE), replace=False)
    best: tuple[float, int, np.ndarray] | None = None
    silhouettes: dict[int, float] = {}

    def judge(k: int) -> None:
        nonlocal best
        labels = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit_predict(vectors)
        sampled = labels[sample]
        if len(set(sampled.tolist())) < 2:
            return
        score = float(silhouette_score(vectors[sample], sampled, metric="cosine"))
        silhouettes[k] = round(score, 4)
        if best is None or score > best[0]:
            best = (score, k, labels)

    # One thread: in the service this runs beside request handlers on a small machine.
    with threadpool_limits(limits=1):
        grid = candidate_counts(n, max_clusters=max_clusters)
        for k in grid:
            judge(k)
        if best is not None:
            # Then halfway towards each neighbour of the best: the coarse grid's steps are wide at the top.
            position = grid.index(best[1])
            for neighbour in (grid[position - 1] if position else None, grid[min(position + 1, len(grid) - 1)]):
                if neighbour is not None and (middle := (best[1] + neighbour) // 2) not in silhouettes | {1: 0}:
                    judge(middle)
        if best is not None and known_topics is not None and len(known_topics):
            seeds = _seeds(vectors, known_topics, limit=min(max_clusters, n) - best[1])
            if len(seeds):
                free, _ = kmeans_plusplus(vectors, n_clusters=best[1], random_state=seed)
                start = np.vstack([seeds, free]).astype(vectors.dtype)
                seeded = KMeans(n_clusters=len(start), init=start, n_init=1, random_state=seed).fit_predict(vectors)
                # Clusters that gathered nothing are dropped and the rest numbered 0..k-1.
                _, seeded = np.unique(seeded, return_inverse=True)
                best = (best[0], int(seeded.max()) + 1, seeded)
    if best is None:
        labels = np.zeros(n, dtype=np.int64)
        k = 1
    else:
        _, k, labels = best
    centroids = np.zeros((k, vectors.shape[1]), dtype=np.float32)
    for cluster in range(k):
        centroids[cluster] = vectors[labels == cluster].mean(axis=0)
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    return Clustering(labels=labels, centroids=centroids, k=k, silhouettes=silhouettes)


def _seeds(vectors: np.ndarray, known_topics: np.ndarray, *, limit: int) -> np.ndarray:
    """The known topics that are the closest known topic of at least one vector, most such vectors first,
    at most ``limit``: a topic nobody writes about needs no cluster."""
    if limit <= 0:
        return known_topics[:0]
    closest = np.argmax(vectors @ known_topics.T, axis=1)
    counts = np.bincount(closest, minlength=len(known_topics))
    wanted = [int(i) for i in np.argsort(-counts, kind="stable") if counts[i] > 0][:limit]
    return known_topics[wanted]


# What a cluster beside one ranked above it still counts for (see ``rank_apart``). Offline replica of the gap
# report, 12 splits × 3 k-means random states, uncovered topics found in the top N: BANKING77 734 → 743, 751,
# 754, 751 and Bitext 275 → 284, 287, 287, 284 at 0.5, 0.6, 0.75, 0.85 — a plateau, not a tuned point.
NEIGHBOUR_DISCOUNT = 0.75


class Ranked(NamedTuple):
    cluster: int
    score: float  # as it stood when the cluster was picked
    beside: int | None  # the cluster picked earlier whose neighbour this one is, if any


def rank_apart(
    scores: Sequence[float],
    centroids: np.ndarray,
    *,
    groups: Sequence[object] | None = None,
    discount: float = NEIGHBOUR_DISCOUNT,
) -> list[Ranked]:
    """Clusters best score first, where each pick lowers by ``discount`` the clusters still left that it is linked
    to by nearest centroid (its own nearest cluster, and those whose nearest it is; a cluster linked to two picks
    is lowered twice). No similarity bound: every cluster has a nearest one. K-means splits a large
    question into neighbouring clusters, and the second half of a question already listed tells a reader less
    than a question of its own; a lowered cluster still ranks high where its score says so. ``groups``: clusters
    link only within their group (a language: an FAQ entry answers one)."""
    count = len(scores)
    left = np.asarray(scores, dtype=np.float64).copy()
    between = centroids @ centroids.T
    np.fill_diagonal(between, -np.inf)
    if groups is not None:
        labels = np.asarray([str(group) for group in groups])
        between[labels[:, None] != labels[None, :]] = -np.inf
    linked_to = np.where(np.isfinite(between.max(axis=1)), between.argmax(axis=1), -1) if count else np.zeros(0, int)
    remaining = np.ones(count, dtype=bool)
    beside: list[int | None] = [None] * count
    ranked: list[Ranked] = []
    for _ in range(count):
        candidates = np.flatnonzero(remaining)
        pick = int(candidates[np.argmax(left[candidates])])
        ranked.append(Ranked(pick, float(left[pick]), beside[pick]))
        remaining[pick] = False
        linked = linked_to == pick
        if linked_to[pick] >= 0:
            linked[linked_to[pick]] = True
        for other in np.flatnonzero(linked & remaining & (left > 0)):  # a discount must not lift a negative score
            left[other] *= discount
            beside[other] = pick if beside[other] is None else beside[other]
    return ranked


SAME_TEXT = 0.999


def representatives(vectors: np.ndarray, members: np.ndarray, centroid: np.ndarray, count: int) -> list[int]:
    """The ``count`` members nearest the centroid: the tickets that best say what the cluster is about.

    One of each text: desks get the same words many times, and three copies of one ticket say less than three
    tickets."""
    chosen: list[int] = []
    for i in np.argsort(-(vectors[members] @ centroid)):
        member = int(members[i])
        if all(float(vectors[member] @ vectors[other]) < SAME_TEXT for other in chosen):
            chosen.append(member)
            if len(chosen) == count:
                break
    return chosen


def mean_pairwise_similarity(vectors: np.ndarray) -> float:
    """The mean cosine similarity over all pairs of distinct (unit) vectors; 0 for fewer than two.

    Without forming the pairs: |Σv|² = n + Σ_{i≠j} vᵢ·vⱼ."""
    n = len(vectors)
    if n < 2:
        return 0.0
    total = vectors.sum(axis=0)
    return float((total @ total - n) / (n * (n - 1)))


@functools.cache
def stop_words(language: str | None) -> list[str]:
    """English stop words, and the language's own where one is named and known (ISO 639-1 code): tickets in
    another language mix in English, and without its own list German clusters were labelled "die, ich, der,
    ist" (seen on the demo desk)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    from stop_words import safe_get_stop_words

    own = safe_get_stop_words(language) if language and language != "en" else []
    # Words only: labels are made of letters, and scikit-learn warns of stop words it would split ("dall'").
    return sorted(ENGLISH_STOP_WORDS | {word.lower() for word in own if word.isalpha()})


def distinctive_terms(
    texts_by_cluster: Sequence[Sequence[str]], *, count: int = 4, language: str | None = None
) -> list[list[str]]:
    """Each cluster's words that are frequent in it and rare in the others (class-based TF-IDF): a label
    a support lead can read at a glance. ``language``: the texts' language, for its stop words."""
    from sklearn.feature_extraction.text import CountVectorizer

    documents = [" ".join(texts) for texts in texts_by_cluster]
    try:
        vectorizer = CountVectorizer(stop_words=stop_words(language), token_pattern=r"(?u)\b[^\W\d_]{3,}\b")
        counts = vectorizer.fit_transform(documents)
    except ValueError:  # nothing but stop words
        return [[] for _ in documents]
    terms = vectorizer.get_feature_names_out()
    frequency = counts.multiply(1.0 / np.maximum(counts.sum(axis=1), 1)).tocsr()
    spread = np.asarray((counts > 0).sum(axis=0)).ravel()
    weight = np.log(1.0 + len(documents) / spread)
    labels = []
    for row in range(len(documents)):
        scores = frequency.getrow(row).toarray().ravel() * weight
        top = [int(i) for i in np.argsort(-scores)[:count] if scores[i] > 0]
        labels.append([str(terms[i]) for i in top])
    return labels


def most_common(values: Sequence[str | None]) -> tuple[str | None, float]:
    """The most frequent value and its share."""
    if not values:
        return None, 0.0
    value, times = Counter(values).most_common(1)[0]
    return value, times / len(values)
