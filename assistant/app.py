"""The Litestar application: ``create_app(settings)`` wires storage, models and routes."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import anyio
from litestar import Litestar, Router
from litestar.concurrency import get_asyncio_executor, set_asyncio_executor
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router

from assistant import __version__
from assistant.assist import routes as assist_routes
from assistant.auth import routes as auth_routes
from assistant.auth.guards import require_role
from assistant.callbacks import routes as callback_routes
from assistant.cases import routes as case_routes
from assistant.console import routes as console_routes
from assistant.customers import routes as customer_routes
from assistant.dependencies import (
    provide_assist,
    provide_indexes,
    provide_portal_search,
    provide_routing,
    provide_schedule_book,
    provide_session,
    provide_settings,
    provide_text_encoder,
)
from assistant.errors import EXCEPTION_HANDLERS, STATIC_FILE_EXCEPTION_HANDLERS, ApiOperation, websocket_denials
from assistant.events import routes as event_routes
from assistant.faq import routes as faq_routes
from assistant.insights import routes as insight_routes
from assistant.kpis import routes as kpi_routes
from assistant.routing import routes as routing_routes
from assistant.settings import Settings
from assistant.surveys import routes as survey_routes
from assistant.system import routes as system_routes
from assistant.tickets import routes as ticket_routes

log = logging.getLogger("assistant")


def create_app(settings: Settings | None = None, *, embedder: Any = None) -> Litestar:
    """``embedder``: an already loaded ``knowledge.Embedder`` to share (tests, several apps in one process)."""
    settings = settings or Settings.from_env()
    _use_handler_threads(settings.handler_threads)
    _mask_logs()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        from assistant.runtime import start_runtime

        runtime = await anyio.to_thread.run_sync(lambda: start_runtime(settings, embedder=embedder))
        app.state.update(runtime.state())
        log.info(runtime.banner())
        try:
            yield
        finally:
            await anyio.to_thread.run_sync(runtime.stop)

    api = Router(
        path="/",
        guards=[require_role],
        route_handlers=[
            auth_routes.whoami,
            ticket_routes.ticket_webhook,
            ticket_routes.list_tickets,
            ticket_routes.open_ticket,
            ticket_routes.get_ticket,
            ticket_routes.reroute_ticket,
            routing_routes.route_text,
            routing_routes.routing_config,
            faq_routes.search_faq,
            faq_routes.list_faq,
            faq_routes.get_faq,
            faq_routes.create_faq,
            faq_routes.update_faq,
            faq_routes.delete_faq,
            case_routes.solve_ticket,
            case_routes.get_case,
            assist_routes.suggest,
            assist_routes.suggestion_feedback,
            assist_routes.live_suggestions,
            event_routes.events_webhook,
            survey_routes.surveys_webhook,
            kpi_routes.kpis,
            kpi_routes.kpi_distribution,
            insight_routes.self_service_gaps,
            insight_routes.satisfaction_drivers,
            insight_routes.deflection_rate,
            kpi_routes.list_schedules,
            kpi_routes.put_schedule,
            kpi_routes.delete_schedule,
            customer_routes.erase,
            callback_routes.subscribe,
            callback_routes.subscriptions,
            callback_routes.unsubscribe,
            callback_routes.deliveries,
            callback_routes.retry,
        ],
    )
    app = Litestar(
        route_handlers=[
            system_routes.health,
            system_routes.ready,
            api,
            _swagger_assets(),
            console_routes.console_home,
            console_routes.console_page,
            console_routes.console_assets(),
        ],
        lifespan=[lifespan],
        dependencies={
            "session": Provide(provide_session),
            "routing": Provide(provide_routing, sync_to_thread=False),
            "settings": Provide(provide_settings, sync_to_thread=False),
            "text_encoder": Provide(provide_text_encoder, sync_to_thread=False),
            "indexes": Provide(provide_indexes, sync_to_thread=False),
            "assist": Provide(provide_assist, sync_to_thread=False),
            "portal_search": Provide(provide_portal_search, sync_to_thread=False),
            "schedule_book": Provide(provide_schedule_book, sync_to_thread=False),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[websocket_denials],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Support-desk assistant",
            version=__version__,
            description="Ticket routing, agent assist, FAQ search and support KPIs.",
            path="/schema",
            render_plugins=[_offline_swagger()],
        ),
        state=None,
        debug=False,
    )
    # Every route's 400 in the schema is the {"error": ...} body the exception handlers answer with.
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                if not issubclass(handler.operation_class, ApiOperation):
                    handler.operation_class = ApiOperation
    return app


class PiiMaskingFilter(logging.Filter):
    """Whatever the service logs passes through the PII masker first: a log line is not a place for a
    customer's e-mail address, even inside an error message."""

    def filter(self, record: logging.LogRecord) -> bool:
        from knowledge.pii import mask_pii

        if record.args:
            record.msg, record.args = mask_pii(record.getMessage()), None
        elif isinstance(record.msg, str):
            record.msg = mask_pii(record.msg)
        if record.exc_info:
            # A traceback's text (an exception message may quote the input) is masked as well.
            record.exc_text = mask_pii("".join(traceback.format_exception(*record.exc_info)).rstrip())
            record.exc_info = None
        return True


def _mask_logs() -> None:
    for name in ("assistant", "litestar", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, PiiMaskingFilter) for f in logger.filters):
            logger.addFilter(PiiMaskingFilter())


def _use_handler_threads(count: int) -> None:
    """Sync handlers run on this pool. asyncio's default (cores + 4 = 6 threads here) would cap how many
    tickets wait on the encoder at once, and so the batch size, far below what the model can take."""
    current = get_asyncio_executor()
    if current is None or current._max_workers != count:
        set_asyncio_executor(ThreadPoolExecutor(max_workers=count, thread_name_prefix="handler"))


# The docs page's scripts are served from the swagger-ui-bundle package: a help desk's network may
# have no way out to a CDN.
SWAGGER_ASSETS = "/schema/assets"


def _swagger_assets() -> Any:
    import swagger_ui_bundle

    return create_static_files_router(
        path=SWAGGER_ASSETS,
        directories=[swagger_ui_bundle.swagger_ui_path],
        include_in_schema=False,
        exception_handlers=STATIC_FILE_EXCEPTION_HANDLERS,
    )


def _offline_swagger() -> SwaggerRenderPlugin:
    return SwaggerRenderPlugin(
        js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
        css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{SWAGGER_ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{SWAGGER_ASSETS}/favicon-32x32.png'>",
    )
