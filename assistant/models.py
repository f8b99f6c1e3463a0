"""Every table, imported in one place for Alembic and ``SQLModel.metadata``."""

from assistant.assist.models import SuggestionFeedback
from assistant.auth.models import ApiKey
from assistant.cases.models import ResolvedCase
from assistant.faq.models import FaqEntry
from assistant.indexing.models import IndexChange
from assistant.tickets.models import RoutingDecision, Ticket, WebhookDelivery

__all__ = [
    "ApiKey",
    "FaqEntry",
    "IndexChange",
    "ResolvedCase",
    "RoutingDecision",
    "SuggestionFeedback",
    "Ticket",
    "WebhookDelivery",
]
