"""Fixtures: the real embedding model, a demo classifier trained once, SQLite and PostgreSQL databases."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine, create_engine, text

from assistant.app import create_app
from assistant.auth.service import create_api_key
from assistant.db import make_engine, migrate, session_scope
from assistant.demo import ensure_demo_classifier
from assistant.settings import Settings, default_model_path
from knowledge import OnnxEmbedder, TextEmbedder
from tests.support import POSTGRES_URL, WEBHOOK_SECRET, WEBHOOK_SOURCE


@pytest.fixture(scope="session", autouse=True)
def model_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One ONNX export of the model for the whole run, servers and CLI runs in subprocesses included:
    each would otherwise export it again into its own data directory."""
    directory = tmp_path_factory.mktemp("model-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ASSISTANT_MODEL_CACHE_DIR", str(directory))
        yield directory


@pytest.fixture(scope="session")
def embedder(model_cache_dir: Path) -> OnnxEmbedder:
    """The service's default backend: the shipped model, exported to ONNX on first use."""
    return OnnxEmbedder(default_model_path(), cache_dir=model_cache_dir).warm_up()


@pytest.fixture(scope="session")
def demo_classifier_dir(tmp_path_factory: pytest.TempPathFactory, embedder: OnnxEmbedder) -> Path:
    directory = tmp_path_factory.mktemp("demo-classifier")
    ensure_demo_classifier(embedder=embedder, classifier_dir=directory)
    return directory


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'assistant.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need ASSISTANT_TEST_POSTGRES_URL (.ci/run sets it)")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is not reachable: {exc}")
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The database, migrated, without an app: for the storage layer's own tests."""
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "rules.json"
    path.write_text(
        json.dumps(
            {
                "rules": [
                    {
                        "name": "legal_threat",
                        "pattern": r"\b(lawyer|legal action)\b",
                        "department": "escalations",
                        "needs_human_triage": True,
                    },
                    {"name": "vip", "customer_tiers": ["vip"], "department": "priority_desk"},
                ]
            }
        )
    )
    return path


@pytest.fixture
def settings(tmp_path: Path, database_url: str, demo_classifier_dir: Path, rules_file: Path) -> Settings:
    data_dir = tmp_path / "data"
    shutil.copytree(demo_classifier_dir, data_dir / "classifier")
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        demo=False,
        webhook_secrets={WEBHOOK_SOURCE: WEBHOOK_SECRET},
        routing_rules_path=rules_file,
        max_body_bytes=64 * 1024,
        max_text_chars=10_000,
    )


@pytest.fixture
def client(settings: Settings, embedder: TextEmbedder) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(settings, embedder=embedder)) as test_client:
        yield test_client


@pytest.fixture
def make_key(settings: Settings) -> Callable[[str], dict[str, str]]:
    """Authorization headers for a new key of the given role."""

    def make(role: str) -> dict[str, str]:
        engine = make_engine(settings.resolved_database_url)
        migrate(engine)
        with session_scope(engine) as session:
            _, key = create_api_key(session, name=f"test-{role}", role=role)
        engine.dispose()
        return {"Authorization": f"Bearer {key}"}

    return make


@pytest.fixture
def agent_headers(client: TestClient[Any], make_key: Callable[[str], dict[str, str]]) -> dict[str, str]:
    return make_key("agent")
