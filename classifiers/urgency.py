"""Urgency from explicit cues in the text: what a triage lead scans for first.

A lexicon, not a model: no labelled urgency data exists here to learn from, and a rule that fires
says exactly why it fired.
"""

from __future__ import annotations

import re

HIGH = "high"
NORMAL = "normal"
LOW = "low"

_HIGH_CUES = re.compile(
    r"\b(urgent(ly)?|asap|immediately|right now|emergency|as soon as possible|"
    r"fraud(ulent)?|stolen|hacked|unauthori[sz]ed|scam(med)?|compromised|"
    r"lawyer|legal action|sue|court|chargeback|"
    r"third time|still (not|no|hasn'?t|haven'?t)|nobody (has )?(answered|replied|responded)|"
    r"dringend|sofort|betrug|gestohlen|gehackt|anwalt|unverzüglich)\b",
    re.IGNORECASE,
)
_LOW_CUES = re.compile(
    r"\b(no rush|no hurry|whenever (you|it) (can|suits)|when you get a chance|just (wondering|curious)|"
    r"out of curiosity|not urgent|keine eile)\b",
    re.IGNORECASE,
)


def urgency_of(text: str) -> str:
    # "not urgent" contains "urgent": the customer's own word on it is read first.
    if _LOW_CUES.search(text):
        return LOW
    if _HIGH_CUES.search(text) or "!!!" in text:
        return HIGH
    return NORMAL
