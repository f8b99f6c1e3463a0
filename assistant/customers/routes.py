"""Erasure on a customer's request."""

from __future__ import annotations

from typing import Annotated

from litestar import delete
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import Parameter
from sqlmodel import Session

from assistant.auth.models import Role
from assistant.customers.models import ErasureReport
from assistant.customers.service import erase_customer
from assistant.indexing.service import KnowledgeIndexes


@delete(
    # The query form is for a reference a path cannot carry as it is (one with a '/': its %2F reads as a separator).
    ["/v1/customers/{customer_ref:str}", "/v1/customers"],
    tags=["customers"],
    summary="Erase everything about one customer reference",
    description=(
        "Deletes the customer's tickets with their decisions, resolved cases (and their search-index entries) "
        "and strips the free text and the customer's id from the events of those tickets. Irreversible. A reference "
        "with a '/' goes in the query: `DELETE /v1/customers?customer_ref=acme%2F123`."
    ),
    opt={"roles": [Role.admin]},
    status_code=200,
    sync_to_thread=True,
)
def erase(
    customer_ref: Annotated[str, Parameter(min_length=1, max_length=128)],
    session: NamedDependency[Session],
    indexes: NamedDependency[KnowledgeIndexes],
    state: State,
) -> ErasureReport:
    state.search_log.flush()  # the customer's searches still on their way to the log are erased too
    report = erase_customer(session, customer_ref)
    indexes.sync_after_write()
    indexes.save(force=True)  # the erased cases' vectors leave the saved index files now, not in a minute
    return report
