"""Ticket classification library: fit / predict / save / load and evaluation. No web, no database."""

from classifiers.evaluation import EvaluationReport, evaluate
from classifiers.ticket_classifier import Alternative, Prediction, TicketClassifier, load_taxonomy

__all__ = ["Alternative", "EvaluationReport", "Prediction", "TicketClassifier", "evaluate", "load_taxonomy"]
