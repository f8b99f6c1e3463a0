"""The demo: a retail / subscription help desk's tickets, its taxonomy, routing rules and credentials."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path

from sqlalchemy import Engine

from assistant.auth.models import Role
from assistant.auth.service import authenticate, create_api_key
from assistant.db import session_scope
from assistant.training.service import LabelledTexts, read_labelled_csv, train_classifier
from classifiers import TicketClassifier, load_taxonomy
from knowledge import Embedder

DEMO_DIR = Path(__file__).parent
DEMO_TICKETS = DEMO_DIR / "tickets.csv"
DEMO_TAXONOMY = DEMO_DIR / "departments.json"
DEMO_RULES = DEMO_DIR / "routing_rules.json"
DEMO_SOURCE = "demo"
CREDENTIALS_FILE = "demo-credentials.json"


def demo_training_data() -> LabelledTexts:
    data = read_labelled_csv(DEMO_TICKETS, text_column="text", label_column="intent")
    return LabelledTexts(data.texts, data.labels, load_taxonomy(DEMO_TAXONOMY))


def ensure_demo_classifier(*, embedder: Embedder, classifier_dir: Path) -> bool:
    """Train the demo classifier when none exists; True when it trained one."""
    if TicketClassifier.exists(classifier_dir):
        return False
    train_classifier(embedder=embedder, data=demo_training_data(), out_dir=classifier_dir, holdout=0.2)
    return True


def ensure_demo_credentials(*, engine: Engine, data_dir: Path) -> dict[str, str]:
    """A demo admin API key and a webhook secret for source ``demo``, made once and kept in the data dir.

    The key's plaintext is kept (owner-only file) so that every start can print it: a demo convenience.
    Production keys are made with ``assistant keys create`` and shown once.
    """
    path = data_dir / CREDENTIALS_FILE
    credentials: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    with session_scope(engine) as session:
        key = credentials.get("api_key")
        if not key or authenticate(session, key=key) is None:
            _, key = create_api_key(session, name="demo", role=Role.admin.value)
            credentials["api_key"] = key
    credentials.setdefault("webhook_source", DEMO_SOURCE)
    credentials.setdefault("webhook_secret", secrets.token_hex(24))
    data_dir.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".credentials-", dir=data_dir)  # created owner-only
    with os.fdopen(descriptor, "w") as handle:
        handle.write(json.dumps(credentials, indent=2) + "\n")
    os.replace(temporary, path)
    return credentials
