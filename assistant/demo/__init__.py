"""The demo: a retail / subscription help desk's tickets, its taxonomy, routing rules and credentials."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import select

from assistant.auth.models import Role
from assistant.auth.service import authenticate, create_api_key
from assistant.db import session_scope
from assistant.faq.service import LanguageOf
from assistant.indexing.service import TextEncoder
from assistant.training.service import LabelledTexts, read_labelled_csv, train_classifier
from classifiers import TicketClassifier, load_taxonomy
from knowledge import Embedder

DEMO_DIR = Path(__file__).parent
DEMO_TICKETS = DEMO_DIR / "tickets.csv"
DEMO_TAXONOMY = DEMO_DIR / "departments.json"
DEMO_RULES = DEMO_DIR / "routing_rules.json"
DEMO_FAQ = DEMO_DIR / "faq.json"
DEMO_CASES = DEMO_DIR / "resolved_cases.jsonl"
DEMO_PLAYBOOKS = DEMO_DIR / "playbooks.json"
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


def ensure_demo_knowledge(*, engine: Engine, encoder: TextEncoder, language_of: LanguageOf) -> bool:
    """Import the demo FAQ and resolved cases into an empty knowledge base; True when it did."""
    from assistant.cases.models import ResolvedCase
    from assistant.cases.service import import_cases, read_cases_file
    from assistant.faq.models import FaqEntry
    from assistant.faq.service import import_faq, read_faq_file

    with session_scope(engine) as session:
        if session.exec(select(FaqEntry.id).limit(1)).first() or session.exec(select(ResolvedCase.id).limit(1)).first():
            return False
        import_faq(session, read_faq_file(DEMO_FAQ), encoder=encoder, language_of=language_of)
        import_cases(session, read_cases_file(DEMO_CASES), encoder=encoder, language_of=language_of)
    return True
