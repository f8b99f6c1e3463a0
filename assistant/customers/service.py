"""Erasure: everything about one customer reference leaves the database and the search index."""

from __future__ import annotations

from sqlalchemy import case, delete, or_, tuple_, update
from sqlmodel import Session, col, select

from assistant.cases.models import ResolvedCase
from assistant.customers.models import ErasureReport
from assistant.db import write_lock
from assistant.errors import InvalidInput
from assistant.events.models import InteractionEvent
from assistant.indexing.models import ChangeOp, Collection
from assistant.indexing.service import record_change
from assistant.insights.deflection import scrub_customer_searches
from assistant.surveys.service import scrub_customer as scrub_customer_surveys
from assistant.tickets.models import Ticket

CHUNK = 500


def erase_customer(session: Session, customer_ref: str) -> ErasureReport:
    """Delete the customer's tickets (with their decisions, deliveries and feedback), resolved cases and
    their index entries, and strip the free text of the events of those tickets, of their survey responses and
    of their portal searches; in one transaction.

    Events, survey scores and searches themselves stay, without text or reference: they hold no customer data
    once scrubbed, and removing them would silently change the support and survey KPIs of the past.
    """
    if "\x00" in customer_ref:
        raise InvalidInput("A customer reference may not contain NUL characters.", code="validation_error")
    with write_lock(session):
        # Locked (on PostgreSQL): a ticket being solved meanwhile has its case committed first and found below,
        # not deleted unseen by the tickets' cascade and left in other processes' indexes.
        tickets = session.exec(
            select(Ticket.id, Ticket.source, Ticket.external_id)
            .where(Ticket.customer_ref == customer_ref)
            .order_by(col(Ticket.id))  # the ticket writer locks in id order too: no deadlock between the two
            .with_for_update()
        ).all()
        ticket_ids = [ticket_id for ticket_id, _, _ in tickets]
        keys = [(source, external_id) for _, source, external_id in tickets]
        case_filter = [ResolvedCase.customer_ref == customer_ref]
        if ticket_ids:
            case_filter.append(col(ResolvedCase.ticket_id).in_(ticket_ids))
        case_ids = list(session.exec(select(ResolvedCase.id).where(or_(*case_filter))).all())
        scrubbed = 0
        for start in range(0, len(keys), CHUNK):
            chunk = keys[start : start + CHUNK]
            result = session.execute(
                update(InteractionEvent)
                .where(tuple_(col(InteractionEvent.source), col(InteractionEvent.ticket_id)).in_(chunk))
                # Agents' ids stay (they are staff, and KPIs group by them); a customer's goes.
                .values(
                    text=None,
                    actor_id=case(
                        (col(InteractionEvent.actor_type) == "agent", col(InteractionEvent.actor_id)), else_=None
                    ),
                )
            )
            scrubbed += result.rowcount or 0
        # A customer's own id may also appear as the actor of events on tickets we never routed.
        result = session.execute(
            update(InteractionEvent)
            .where(col(InteractionEvent.actor_id) == customer_ref)
            .values(actor_id=None, text=None)
        )
        scrubbed += result.rowcount or 0
        for start in range(0, len(case_ids), CHUNK):
            chunk_ids = case_ids[start : start + CHUNK]
            session.execute(delete(ResolvedCase).where(col(ResolvedCase.id).in_(chunk_ids)))
        record_change(session, Collection.cases.value, [i for i in case_ids if i is not None], ChangeOp.delete)
        surveys = scrub_customer_surveys(session, customer_ref, keys)
        searches = scrub_customer_searches(session, customer_ref)
        for start in range(0, len(ticket_ids), CHUNK):
            session.execute(delete(Ticket).where(col(Ticket.id).in_(ticket_ids[start : start + CHUNK])))
        session.commit()
    return ErasureReport(
        customer_ref=customer_ref,
        tickets=len(ticket_ids),
        resolved_cases=len(case_ids),
        events_scrubbed=scrubbed,
        survey_responses_scrubbed=surveys,
        portal_searches_scrubbed=searches,
    )
