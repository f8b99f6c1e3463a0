"""Everything heavy the service holds while it runs: built in the lifespan, never at import time."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from assistant.db import make_engine, migrate
from assistant.errors import ServiceUnavailable
from assistant.routing.engine import ClassifierStore, RoutingEngine
from assistant.routing.rules import load_rules
from assistant.settings import Settings
from classifiers.language import LanguageDetector
from knowledge import Embedder, EncoderWorker
from knowledge.encoder_process import EncoderProcess

log = logging.getLogger("assistant")


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    encoder: EncoderWorker
    routing: RoutingEngine
    webhook_secrets: dict[str, str]
    demo_credentials: dict[str, str] = field(default_factory=dict)
    encoder_process: EncoderProcess | None = None

    def state(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "engine": self.engine,
            "routing": self.routing,
            "webhook_secrets": self.webhook_secrets,
            "demo_credentials": self.demo_credentials,
            "encoder_process": self.encoder_process,
        }

    def banner(self) -> str:
        settings = self.settings
        base = f"http://{settings.host}:{settings.port}"
        classifiers = self.routing.classifiers
        lines = [
            "",
            f"  Support-desk assistant ready on {base}  (API docs: {base}/schema/swagger)",
            f"  data directory: {settings.data_dir.resolve()}",
            f"  classifier: {classifiers.current().version if classifiers.loaded else 'none yet'}",
        ]
        if self.demo_credentials:
            key = self.demo_credentials["api_key"]
            lines += [
                f"  demo API key (admin):  {key}",
                f"  demo webhook source:   {self.demo_credentials['webhook_source']}",
                f"  demo webhook secret:   {self.demo_credentials['webhook_secret']}",
                f"  try:  curl -s {base}/v1/route -H 'Authorization: Bearer {key}' "
                "-H 'Content-Type: application/json' -d '{\"text\": \"my parcel never arrived\"}'",
            ]
        return "\n".join(lines) + "\n"

    def stop(self) -> None:
        self.encoder.stop()
        if self.encoder_process is not None:
            self.encoder_process.stop()
        self.engine.dispose()


def start_runtime(settings: Settings, *, embedder: Embedder | None = None) -> Runtime:
    """``embedder``: a loaded model to encode with in this process (tests share one); by default the
    model runs in a child process of its own (see ``knowledge.encoder_process``)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)

    secrets = dict(settings.webhook_secrets)
    credentials: dict[str, str] = {}
    rules_path = settings.routing_rules_path
    if settings.demo:
        from assistant.demo import DEMO_RULES, ensure_demo_classifier, ensure_demo_credentials

        # An Embedder loads its weights on first use: here only when the demo has to be trained.
        trainer = embedder or Embedder(settings.resolved_model_path, torch_threads=settings.torch_threads)
        if ensure_demo_classifier(embedder=trainer, classifier_dir=settings.classifier_dir):
            log.info("trained the demo classifier into %s", settings.classifier_dir)
        credentials = ensure_demo_credentials(engine=engine, data_dir=settings.data_dir)
        secrets.setdefault(credentials["webhook_source"], credentials["webhook_secret"])
        rules_path = rules_path or DEMO_RULES

    encoder_process = None
    if embedder is not None:
        encode = embedder.warm_up().encode
    elif not settings.encoder_process:
        encode = Embedder(settings.resolved_model_path, torch_threads=settings.torch_threads).warm_up().encode
    else:
        encoder_process = EncoderProcess(settings.resolved_model_path, torch_threads=settings.torch_threads).start()
        encode = encoder_process.encode
    encoder = EncoderWorker(encode, max_batch=settings.encoder_max_batch, max_wait_ms=settings.encoder_max_wait_ms)
    classifiers = ClassifierStore(settings.classifier_dir)
    try:
        classifiers.current()
    except ServiceUnavailable as exc:
        log.warning("%s The service is up but not ready.", exc.message)
    routing = RoutingEngine(
        classifiers=classifiers,
        encoder=encoder.start(),
        language=LanguageDetector().warm_up(),
        rules=load_rules(rules_path),
        confidence_threshold=settings.confidence_threshold,
        out_of_scope_threshold=settings.out_of_scope_threshold,
        model_text_chars=settings.model_text_chars,
    )
    return Runtime(settings, engine, encoder, routing, secrets, credentials, encoder_process)
