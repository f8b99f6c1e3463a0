"""knowledge.clustering on its own: no app, no model."""

from __future__ import annotations

import itertools

import numpy as np

from knowledge.clustering import cluster_by_meaning, distinctive_terms, mean_pairwise_similarity, rank_apart


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_mean_pairwise_similarity_counts_distinct_pairs_only() -> None:
    vectors = unit(np.random.default_rng(3).normal(size=(7, 16)))
    pairs = [float(vectors[i] @ vectors[j]) for i, j in itertools.combinations(range(7), 2)]
    assert abs(mean_pairwise_similarity(vectors) - sum(pairs) / len(pairs)) < 1e-5
    assert mean_pairwise_similarity(vectors[:1]) == 0.0  # one ticket is no topic
    same = np.repeat(vectors[:1], 5, axis=0)
    assert abs(mean_pairwise_similarity(same) - 1.0) < 1e-5


def test_well_separated_groups_get_a_cluster_each() -> None:
    rng = np.random.default_rng(0)
    centres = unit(rng.normal(size=(4, 32)))
    vectors = unit(np.vstack([centre + 0.05 * rng.normal(size=(40, 32)) for centre in centres]))
    clustering = cluster_by_meaning(vectors, max_clusters=12)
    assert clustering.k == 4
    for group in range(4):
        assert len(set(clustering.labels[group * 40 : (group + 1) * 40].tolist())) == 1


def test_known_topics_seed_clusters_of_their_own() -> None:
    rng = np.random.default_rng(1)
    centres = unit(rng.normal(size=(5, 32)))
    vectors = unit(np.vstack([centre + 0.05 * rng.normal(size=(40, 32)) for centre in centres]))
    # Two topics the FAQ already answers: each gets a cluster seeded on it, on top of the five the
    # silhouette finds; the groups nobody has written about each stay whole.
    clustering = cluster_by_meaning(vectors, max_clusters=12, known_topics=centres[:2])
    assert clustering.k == 7 == len(set(clustering.labels.tolist()))
    for group in (2, 3, 4):
        assert len(set(clustering.labels[group * 40 : (group + 1) * 40].tolist())) == 1
    for group, centre in enumerate(centres[:2]):
        seeded = int(np.argmax(clustering.centroids @ centre))
        assert float(clustering.centroids[seeded] @ centre) > 0.95
        assert set(clustering.labels[clustering.labels == seeded].tolist()) <= set(
            clustering.labels[group * 40 : (group + 1) * 40].tolist()
        )
    # A known topic that is no text's closest seeds nothing: one at right angles to every text, beside
    # the five topics every text is close to.
    padded = np.hstack([vectors, np.zeros((len(vectors), 1), dtype=np.float32)])
    known = np.vstack([np.hstack([centres, np.zeros((5, 1))]), np.eye(1, 33, 32)]).astype(np.float32)
    assert cluster_by_meaning(padded, max_clusters=12, known_topics=known).k == 10


def test_labels_are_the_words_that_tell_a_cluster_from_the_others_in_any_language() -> None:
    german = [
        ["Ich habe mein Passwort vergessen und die Mail ist nicht da", "Ich kann das Passwort nicht zurücksetzen"],
        ["Die Bestellung ist noch nicht da, ich warte auf die Lieferung", "Ich warte seit Tagen auf die Lieferung"],
        ["Ich möchte die Bestellung stornieren", "Die Bestellung bitte stornieren, ich brauche das nicht"],
        ["Die Rechnung ist falsch, ich wurde doppelt belastet", "Ich brauche die Rechnung für die Bestellung"],
        ["Der Rücksendeschein fehlt, ich möchte die Ware zurückschicken", "Ich brauche einen Rücksendeschein"],
    ]
    glue = {"ich", "die", "der", "ist", "und", "auf", "nicht", "das"}
    # English stop words alone leave German's own to lead the labels.
    assert glue & {word for label in distinctive_terms(german) for word in label}
    labels = distinctive_terms(german, language="de")
    assert not glue & {word for label in labels for word in label}
    assert labels[0][0] == "passwort" and "lieferung" in labels[1] and "stornieren" in labels[2]
    assert "rechnung" in labels[3] and labels[4][0] == "rücksendeschein"


def test_a_cluster_beside_one_ranked_above_it_counts_for_less() -> None:
    """Two halves of one question (each the other's nearest) and two other questions: the second half yields to a
    question of its own unless it still outscores it."""
    points = np.array([[1.0, 0.0, 0.0], [0.95, 0.31, 0.0], [0.0, 0.0, 1.0], [0.0, 0.31, 0.95]])
    centroids = points / np.linalg.norm(points, axis=1, keepdims=True)
    ranked = rank_apart([10.0, 9.0, 8.0, 1.0], centroids, discount=0.75)
    assert [r.cluster for r in ranked] == [0, 2, 1, 3]
    assert ranked[2].score == 9.0 * 0.75 and ranked[2].beside == 0 and ranked[0].beside is None
    assert ranked[1].beside is None and ranked[3].beside == 2
    assert [r.cluster for r in rank_apart([10.0, 9.0, 6.0, 1.0], centroids, discount=0.75)] == [0, 1, 2, 3]
    # Clusters of another language are not each other's neighbours.
    in_two_languages = rank_apart([10.0, 9.0, 8.0, 1.0], centroids, groups=["en", "de", "en", "en"])
    assert [r.cluster for r in in_two_languages] == [0, 1, 2, 3] and in_two_languages[1].beside is None
    assert rank_apart([], np.zeros((0, 3))) == []
