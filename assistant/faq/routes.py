"""FAQ management (admins) and the customer portal's FAQ search."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter, QueryParameter
from sqlmodel import Session

from assistant.auth.models import Role
from assistant.db import MAX_ROW_ID
from assistant.faq import service
from assistant.faq.models import FaqCreate, FaqRead, FaqSearchResult, FaqUpdate
from assistant.faq.search import PortalSearch
from assistant.indexing.service import KnowledgeIndexes, TextEncoder
from assistant.insights.deflection import PortalSearchRecord
from assistant.routing.engine import RoutingEngine

FaqId = Annotated[int, Parameter(ge=1, le=MAX_ROW_ID)]
# Everyone who may read the FAQ; the portal's key reaches this search and nothing else.
SEARCH_ROLES = [Role.portal, Role.agent, Role.admin]
MAX_QUERY_CHARS = 1_000


@get(
    "/v1/faq/search",
    tags=["faq"],
    summary="Search published FAQ entries (the customer portal's search)",
    description=(
        "Only published FAQ entries can appear here: never resolved cases, drafts or customer data. "
        "Each key has a budget of searches a minute (ASSISTANT_PORTAL_SEARCHES_PER_MINUTE); beyond it, 429 "
        "with Retry-After. Every search is logged (query PII-masked) off the request path; with `customer_ref` "
        "it counts towards deflection (`GET /v1/insights/deflection`)."
    ),
    opt={"roles": SEARCH_ROLES},
)
async def search_faq(
    request: Request[Any, Any, Any],
    state: State,
    portal_search: NamedDependency[PortalSearch],
    q: Annotated[
        str,
        # No NUL: the search log could not store it (PostgreSQL refuses one), and the search would go uncounted.
        QueryParameter(
            min_length=1, max_length=MAX_QUERY_CHARS, pattern=r"^[^\x00]+$", description="the customer's question"
        ),
    ],
    k: Annotated[int, QueryParameter(ge=1, le=20)] = 5,
    customer_ref: Annotated[
        str | None,
        QueryParameter(
            min_length=1,
            max_length=128,
            pattern=r"^(?=[^\x00]*[^\x00\s])[^\x00]+$",  # some text, no NUL
            description="the signed-in customer's reference, as the ticketing system knows it (for deflection)",
        ),
    ] = None,
) -> FaqSearchResult:
    portal_search.rate_limiter.take(str(request.scope.get("api_key_id", "")))
    result = await portal_search.search(q, k)
    top = result.results[0] if result.results else None
    state.search_log.record(
        PortalSearchRecord(q, customer_ref, len(result.results), top.score if top else None, top.id if top else None)
    )
    return result


@get("/v1/faq", tags=["faq"], summary="List FAQ entries", opt={"roles": [Role.admin]}, sync_to_thread=True)
def list_faq(
    session: NamedDependency[Session],
    offset: Annotated[int, QueryParameter(ge=0, le=10_000_000)] = 0,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    published: Annotated[bool | None, QueryParameter(description="only published (true) or drafts (false)")] = None,
    text: Annotated[str | None, QueryParameter(max_length=200)] = None,
) -> dict[str, object]:
    entries, total = service.list_faq(session, offset=offset, limit=limit, published=published, text=text)
    return {"total": total, "offset": offset, "entries": entries}


@get("/v1/faq/{faq_id:int}", tags=["faq"], summary="One FAQ entry", opt={"roles": [Role.admin]}, sync_to_thread=True)
def get_faq(faq_id: FaqId, session: NamedDependency[Session]) -> FaqRead:
    return service.get_faq(session, faq_id)


@post(
    "/v1/faq",
    tags=["faq"],
    summary="Create an FAQ entry; searchable at once when published",
    opt={"roles": [Role.admin]},
    sync_to_thread=True,
)
def create_faq(
    data: JSONBody[FaqCreate],
    session: NamedDependency[Session],
    text_encoder: NamedDependency[TextEncoder],
    routing: NamedDependency[RoutingEngine],
    indexes: NamedDependency[KnowledgeIndexes],
) -> FaqRead:
    entry = service.create_faq(session, data, encoder=text_encoder, language_of=routing.language.detect)
    indexes.sync_after_write()
    return entry


@patch(
    "/v1/faq/{faq_id:int}",
    tags=["faq"],
    summary="Change an FAQ entry (fields left out keep their value)",
    opt={"roles": [Role.admin]},
    sync_to_thread=True,
)
def update_faq(
    faq_id: FaqId,
    data: JSONBody[FaqUpdate],
    session: NamedDependency[Session],
    text_encoder: NamedDependency[TextEncoder],
    routing: NamedDependency[RoutingEngine],
    indexes: NamedDependency[KnowledgeIndexes],
) -> FaqRead:
    entry = service.update_faq(session, faq_id, data, encoder=text_encoder, language_of=routing.language.detect)
    indexes.sync_after_write()
    return entry


@delete(
    "/v1/faq/{faq_id:int}",
    tags=["faq"],
    summary="Delete an FAQ entry; gone from search at once",
    opt={"roles": [Role.admin]},
    sync_to_thread=True,
)
def delete_faq(faq_id: FaqId, session: NamedDependency[Session], indexes: NamedDependency[KnowledgeIndexes]) -> None:
    service.delete_faq(session, faq_id)
    indexes.sync_after_write()
