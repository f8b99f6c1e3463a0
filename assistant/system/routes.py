"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from litestar import Response, get
from litestar.datastructures import State

from assistant.db import ping


@get("/health", tags=["system"], summary="The process is up", sync_to_thread=False)
def health() -> dict[str, str]:
    return {"status": "ok"}


@get(
    "/ready",
    tags=["system"],
    summary="Model loaded and database reachable; what the knowledge indexes hold",
    sync_to_thread=True,
)
def ready(state: State) -> Response[dict[str, Any]]:
    routing = state.routing
    checks = {
        "database": ping(state.engine),
        "encoder": routing.encoder.running and all(process.running for process in state.encoder_processes),
        "classifier": routing.classifiers.loaded,
    }
    ok = all(checks.values())
    body: dict[str, Any] = {"status": "ready" if ok else "not_ready", "checks": checks}
    if routing.classifiers.loaded:
        body["model_version"] = routing.classifiers.current().version
    else:
        body["classifier_problem"] = routing.classifiers.problem
    indexes = state.indexes
    body["knowledge"] = {
        "revision": indexes.revision,
        "faq": {"indexed": indexes.size("faq"), "index_type": indexes.index_type("faq")},
        "cases": {"indexed": indexes.size("cases"), "index_type": indexes.index_type("cases")},
    }
    return Response(body, status_code=200 if ok else 503)
