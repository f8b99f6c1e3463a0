"""Self-service gaps: what customers keep asking that the published FAQ does not answer.

The period's tickets are clustered by meaning (``knowledge.clustering``: k-means, the number of
clusters chosen by the silhouette, plus one seeded at each published FAQ entry that tickets come
close to, so that the questions the FAQ already answers gather apart from the rest), each language
apart: an FAQ entry is written in one language, and an English sentence model lumps the tickets of
another language together whatever they ask (seen on the demo desk: a fifth of its tickets German,
clustered with the English, made one "die ich der ist" cluster of every topic). Each cluster
gets its volume, its main department, the tickets nearest its centre (PII-masked) and its FAQ
coverage: the cosine similarity between the cluster's centre and the closest published FAQ entry's
whole text. Clusters are ranked by volume × (1 − coverage) × cohesion (the mean pairwise cosine
similarity of the cluster's tickets): many alike tickets that no entry is close to is where a new
entry would deflect the most; a loose mix of several questions, which no single entry could answer,
ranks lower. A cluster beside one ranked above it (nearest centroids) counts for less
(``knowledge.clustering.rank_apart``): it is often the other half of the same question.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, insert
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from assistant.db import write_lock
from assistant.errors import InvalidInput
from assistant.faq.models import FaqEntry
from assistant.faq.service import entry_texts, excerpt
from assistant.indexing.service import EmbedFn, TextEncoder, vector_bytes, vector_from_bytes
from assistant.insights.models import TicketVector
from assistant.routing.engine import ticket_text
from assistant.tickets.models import Ticket
from knowledge.clustering import (
    cluster_by_meaning,
    distinctive_terms,
    mean_pairwise_similarity,
    most_common,
    rank_apart,
    representatives,
)
from knowledge.pii import mask_pii

MIN_TICKETS = 10
# A language with fewer tickets in the period (misdetected short texts among them) joins the largest group.
LANGUAGE_MIN_TICKETS = 50
EXAMPLES = 3
EXAMPLE_CHARS = 200
LABEL_TEXTS = 200
ENCODE_SLICE = 256
# Ids per IN (...) list: SQLite's bound-parameter limit is far above it, and PostgreSQL's plans stay cheap.
LOOKUP_CHUNK = 1_000
log = logging.getLogger("assistant")


def in_slices(embed: EmbedFn, texts: Sequence[str]) -> np.ndarray:
    """In slices: the shared encoder serves live requests between them, and no one call outlasts its timeout."""
    return np.vstack([embed(texts[i : i + ENCODE_SLICE]) for i in range(0, len(texts), ENCODE_SLICE)])


def text_digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def ticket_vectors(
    session: Session, ticket_ids: Sequence[int], texts: Sequence[str], encoder: TextEncoder, *, text_chars: int
) -> np.ndarray:
    """Each ticket's vector of its text as the model reads it (the first ``text_chars``): kept from an earlier
    report where the model and the text are the same, else embedded, each distinct text once (desks get the
    same words many times: web-form presets, "where is my order?"), and kept for the next report. Keeping
    is best effort: a chunk that cannot be written (a report racing another over the same tickets) is
    embedded again next time."""
    cut = [text[:text_chars] for text in texts]
    digests = [text_digest(text) for text in cut]
    kept: dict[int, tuple[str, str, bytes]] = {}
    for start in range(0, len(ticket_ids), LOOKUP_CHUNK):
        chunk = list(ticket_ids[start : start + LOOKUP_CHUNK])
        found = session.exec(
            select(TicketVector.ticket_id, TicketVector.model, TicketVector.text_digest, TicketVector.vector).where(
                col(TicketVector.ticket_id).in_(chunk)
            )
        )
        kept.update((ticket_id, (model, digest, raw)) for ticket_id, model, digest, raw in found)
    by_digest: dict[str, np.ndarray] = {}
    keep: list[tuple[int, str]] = []
    for ticket_id, digest in zip(ticket_ids, digests, strict=True):
        model, kept_digest, raw = kept.get(ticket_id, ("", "", b""))
        if model == encoder.model_name and kept_digest == digest:
            by_digest[digest] = vector_from_bytes(raw)
        else:
            keep.append((ticket_id, digest))
    unknown = {digest: text for text, digest in zip(cut, digests, strict=True) if digest not in by_digest}
    if unknown:
        by_digest.update(zip(unknown, in_slices(encoder.encode, list(unknown.values())), strict=True))
    if keep:
        _keep_vectors(session, keep, by_digest, model=encoder.model_name, text_chars=text_chars)
    return np.vstack([by_digest[digest] for digest in digests]).astype(np.float32, copy=False)


def _keep_vectors(
    session: Session,
    keep: Sequence[tuple[int, str]],
    by_digest: dict[str, np.ndarray],
    *,
    model: str,
    text_chars: int,
) -> None:
    """A session of its own: the report's has read for a while, and SQLite refuses a write from a reader whose
    snapshot another writer has moved past. A transaction per chunk: live tickets wait for one chunk's write
    at most, not for all of a month's vectors. Each vector is written only where its ticket still has the
    text it was made from, read in the same transaction: SQLite hands an erased ticket's id to the next new
    ticket, which must not inherit the erased customer's vector."""
    with Session(session.get_bind()) as writer:
        for start in range(0, len(keep), LOOKUP_CHUNK):
            chunk = keep[start : start + LOOKUP_CHUNK]
            try:
                with write_lock(writer):
                    ids = [ticket_id for ticket_id, _ in chunk]
                    current = {
                        ticket_id: text_digest(ticket_text(subject or "", body or "")[:text_chars])
                        for ticket_id, subject, body in writer.exec(
                            select(Ticket.id, Ticket.subject, Ticket.body).where(col(Ticket.id).in_(ids))
                        )
                    }
                    rows = [
                        {
                            "ticket_id": ticket_id,
                            "model": model,
                            "text_digest": digest,
                            "vector": vector_bytes(by_digest[digest]),
                        }
                        for ticket_id, digest in chunk
                        if current.get(ticket_id) == digest
                    ]
                    writer.execute(delete(TicketVector).where(col(TicketVector.ticket_id).in_(ids)))
                    if rows:
                        writer.execute(insert(TicketVector.__table__), rows)
                    writer.commit()
            except SQLAlchemyError as exc:
                writer.rollback()
                log.warning("the gap report's ticket vectors were not all kept (%s); the next report embeds them", exc)


def published_faq(session: Session, encoder: TextEncoder, *, text_chars: int) -> tuple[list[FaqEntry], np.ndarray]:
    """Published entries with a vector of each one's whole text, question and answer together.

    Not the stored search vector, which leans on the question because customers' searches read like
    questions: what an entry covers is everything it says. On BANKING77 and Bitext (six seeds each) the
    whole text tells uncovered clusters from covered ones better (ROC AUC 0.88–1.00 against 0.76–1.00)."""
    rows = list(session.exec(select(FaqEntry).where(col(FaqEntry.published)).order_by(col(FaqEntry.id))).all())
    if not rows:
        return [], np.zeros((0, 0), dtype=np.float32)
    whole = [entry_texts(row.question, row.answer)[1][:text_chars] for row in rows]
    return rows, in_slices(encoder.passages, whole).astype(np.float32)


def language_groups(languages: Sequence[str | None]) -> dict[str | None, np.ndarray]:
    """Positions of the tickets of each language that has at least ``LANGUAGE_MIN_TICKETS``, largest first; the
    tickets of rarer or unknown languages join the largest group."""
    counts = Counter(languages)
    largest = counts.most_common(1)[0][0]
    own = {language for language, n in counts.items() if language and n >= LANGUAGE_MIN_TICKETS} | {largest}
    keys = [language if language in own else largest for language in languages]
    groups: dict[str | None, list[int]] = {}
    for position, key in enumerate(keys):
        groups.setdefault(key, []).append(position)
    return {key: np.array(positions) for key, positions in sorted(groups.items(), key=lambda item: -len(item[1]))}


def gap_report(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    encoder: TextEncoder,
    top: int = 20,
    max_tickets: int = 20_000,
    max_clusters: int = 300,
    model_text_chars: int = 2_000,
    with_ticket_ids: bool = False,
) -> dict[str, Any]:
    """``with_ticket_ids``: each cluster lists all its tickets' ids, for drilling down."""
    if end <= start:
        raise InvalidInput("'to' must be later than 'from'.", code="invalid_period")
    where = (col(Ticket.created_at) >= start) & (col(Ticket.created_at) < end)
    rows = session.exec(
        select(
            Ticket.id,
            Ticket.source,
            Ticket.external_id,
            Ticket.subject,
            Ticket.body,
            Ticket.department,
            Ticket.language,
        )
        .where(where)
        .order_by(col(Ticket.id))
    ).all()
    total = len(rows)
    if total < MIN_TICKETS:
        raise InvalidInput(
            f"The period holds {total} tickets; the gap report needs at least {MIN_TICKETS} to find anything "
            "worth an FAQ entry. Choose a longer period.",
            code="too_few_tickets",
        )
    if total > max_tickets:
        # A uniform sample keeps every topic's share; a fixed seed keeps the report repeatable.
        keep = np.sort(np.random.default_rng(0).choice(total, max_tickets, replace=False))
        rows = [rows[i] for i in keep]
    texts = [ticket_text(subject or "", body or "") for _, _, _, subject, body, _, _ in rows]
    vectors = ticket_vectors(session, [row[0] for row in rows], texts, encoder, text_chars=model_text_chars)
    faq_rows, faq_vectors = published_faq(session, encoder, text_chars=model_text_chars)
    cluster_of = np.zeros(len(rows), dtype=np.int64)
    parts: list[np.ndarray] = []
    language_of: list[str | None] = []
    languages: list[dict[str, Any]] = []
    for language, positions in language_groups([row[6] for row in rows]).items():
        part = cluster_by_meaning(
            vectors[positions], max_clusters=max_clusters, known_topics=faq_vectors if faq_rows else None
        )
        cluster_of[positions] = part.labels + len(language_of)
        parts.append(part.centroids)
        language_of += [language] * part.k
        languages.append(
            {
                "language": language,
                "tickets": len(positions),
                "clusters": part.k,
                "silhouettes": {str(k): v for k, v in sorted(part.silhouettes.items())},
            }
        )
    centroids = np.vstack(parts)

    masked: dict[int, str] = {}

    def shown(i: int) -> str:
        if i not in masked:
            masked[i] = mask_pii(texts[i])
        return masked[i]

    members_of = [np.flatnonzero(cluster_of == c) for c in range(len(centroids))]
    # Labels from masked text: words frequent in the cluster and rare in the language's other clusters.
    labels: list[list[str]] = [[] for _ in members_of]
    for language in dict.fromkeys(language_of):
        same = [c for c, of in enumerate(language_of) if of == language]
        terms = distinctive_terms(
            [[shown(int(i)) for i in members_of[c][:LABEL_TEXTS]] for c in same], language=language
        )
        for cluster, words in zip(same, terms, strict=True):
            labels[cluster] = words
    # Cluster × entry similarities, and for each entry how close it comes to its best-matching cluster.
    similarity = centroids @ faq_vectors.T if len(faq_rows) else np.zeros((len(centroids), 0))
    entry_best = similarity.max(axis=0) if len(faq_rows) else np.zeros(0)
    clusters: list[dict[str, Any]] = []
    scores: list[float] = []
    for cluster, members in enumerate(members_of):
        centroid = centroids[cluster]
        cohesion = mean_pairwise_similarity(vectors[members])
        coverage = closest = 0.0
        best_faq = None
        if len(faq_rows):
            position = int(np.argmax(similarity[cluster]))
            closest = max(float(similarity[cluster, position]), 0.0)
            coverage = closest * closest / max(float(entry_best[position]), 1e-9)
            best_faq = {
                "id": faq_rows[position].id,
                "question": faq_rows[position].question,
                "answers_another_topic_better": bool(closest < float(entry_best[position])),
            }
        scores.append(len(members) * (1.0 - coverage) * cohesion)
        department, department_share = most_common([rows[i][5] for i in members])
        examples = []
        for i in representatives(vectors, members, centroid, EXAMPLES):
            examples.append(
                {
                    "ticket_id": rows[i][0],
                    "source": rows[i][1],
                    "external_id": rows[i][2],
                    "text": excerpt(shown(i), EXAMPLE_CHARS),
                }
            )
        clusters.append(
            {
                "size": len(members),
                "language": language_of[cluster],
                "share": round(len(members) / len(rows), 4),
                "department": department,
                "department_share": round(department_share, 4),
                "faq_similarity": round(closest, 4),
                "faq_coverage": round(coverage, 4),
                "best_faq": best_faq,
                "cohesion": round(cohesion, 4),
                "score": round(scores[-1], 2),
                "terms": labels[cluster],
                "examples": examples,
                **({"ticket_ids": [rows[i][0] for i in members]} if with_ticket_ids else {}),
            }
        )
    order = rank_apart(scores, centroids, groups=language_of)
    rank_of = {entry.cluster: rank for rank, entry in enumerate(order, start=1)}
    ranked = [
        clusters[cluster]
        | {
            "rank": rank,
            "ranking_score": round(score, 2),
            "beside_rank": rank_of[beside] if beside is not None else None,
        }
        for rank, (cluster, score, beside) in enumerate(order[:top], start=1)
    ]
    return {
        "from": start,
        "to": end,
        "tickets": total,
        "tickets_analysed": len(rows),
        "faq_entries": len(faq_rows),
        "clusters_found": len(centroids),
        "cluster_rule": (
            "k-means per language; k maximises the mean cosine silhouette over a geometric grid, plus one cluster "
            "seeded at each published FAQ entry that is the closest entry of some ticket; a language with fewer "
            f"than {LANGUAGE_MIN_TICKETS} tickets, or none detected, is clustered with the largest"
        ),
        "languages": languages,
        "clusters": ranked,
    }
