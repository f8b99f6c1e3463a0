"""Every table, imported in one place for Alembic and ``SQLModel.metadata``."""

from assistant.auth.models import ApiKey
from assistant.tickets.models import RoutingDecision, Ticket, WebhookDelivery

__all__ = ["ApiKey", "RoutingDecision", "Ticket", "WebhookDelivery"]
