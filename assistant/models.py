"""Every table, imported in one place for Alembic and ``SQLModel.metadata``."""

from assistant.assist.models import SuggestionFeedback
from assistant.auth.models import ApiKey
from assistant.callbacks.models import CallbackSubscription, OutboxDelivery
from assistant.cases.models import ResolvedCase
from assistant.events.models import InteractionEvent, TicketTiming
from assistant.faq.models import FaqEntry
from assistant.indexing.models import IndexChange
from assistant.insights.models import PortalSearchLog, TicketVector
from assistant.schedules.models import BusinessHours
from assistant.surveys.models import SurveyResponse
from assistant.tickets.models import RoutingDecision, Ticket, WebhookDelivery

__all__ = [
    "ApiKey",
    "BusinessHours",
    "CallbackSubscription",
    "FaqEntry",
    "IndexChange",
    "InteractionEvent",
    "OutboxDelivery",
    "PortalSearchLog",
    "ResolvedCase",
    "RoutingDecision",
    "SuggestionFeedback",
    "SurveyResponse",
    "Ticket",
    "TicketTiming",
    "TicketVector",
    "WebhookDelivery",
]
