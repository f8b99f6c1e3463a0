"""Next-best actions: what agents did in the most similar resolved cases, merged with a playbook.

An action scores by the share of the neighbours' similarity mass that took it, so it rises both with
how many neighbours took it and with how close they are; a neighbour solved on first contact weighs
more, since its actions are the ones that worked without a second round. A playbook (the intent's
ordered standard actions) adds a prior scaled by how sure the classifier is of the intent, earlier
steps more. Agents' verdicts scale the result by a smoothed acceptance rate: neutral without
feedback, never zero, so one bad click cannot bury an action for good.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# How much more a neighbour solved on first contact counts than one that needed more rounds.
FIRST_CONTACT_WEIGHT = 1.5
# The most a playbook alone can contribute (at full intent confidence, first step).
PLAYBOOK_WEIGHT = 0.5
# Beta(1, 1) prior on an action's acceptance: 0 verdicts → factor 1.
FEEDBACK_PRIOR = 1.0


@dataclass(frozen=True, slots=True)
class Neighbour:
    case_id: int
    score: float
    actions: Sequence[str]
    first_contact: bool = False


@dataclass(slots=True)
class RankedAction:
    action: str
    score: float
    case_ids: list[int] = field(default_factory=list)
    playbook: str | None = None
    accepted: int = 0
    rejected: int = 0


def feedback_factor(accepted: int, rejected: int) -> float:
    """2 × the smoothed acceptance rate: 1.0 with no verdicts, towards 2 if always taken, towards 0 if never."""
    rate = (accepted + FEEDBACK_PRIOR) / (accepted + rejected + 2 * FEEDBACK_PRIOR)
    return 2.0 * rate


def rank_actions(
    neighbours: Sequence[Neighbour],
    *,
    playbook: Sequence[str] | None = None,
    playbook_name: str | None = None,
    playbook_confidence: float = 0.0,
    feedback: Mapping[str, tuple[int, int]] | None = None,
    limit: int = 5,
) -> list[RankedAction]:
    """Rank actions from neighbours (best first), a playbook and feedback ``{action: (accepted, rejected)}``."""
    feedback = feedback or {}
    ranked: dict[str, RankedAction] = {}
    weights = [max(n.score, 0.0) * (FIRST_CONTACT_WEIGHT if n.first_contact else 1.0) for n in neighbours]
    total = sum(weights)
    if total > 0:
        for neighbour, weight in zip(neighbours, weights, strict=True):
            for action in dict.fromkeys(neighbour.actions):
                entry = ranked.setdefault(action, RankedAction(action, 0.0))
                entry.score += weight / total
                entry.case_ids.append(neighbour.case_id)
    if playbook:
        steps = list(dict.fromkeys(playbook))
        confidence = min(max(playbook_confidence, 0.0), 1.0)
        for position, action in enumerate(steps):
            entry = ranked.setdefault(action, RankedAction(action, 0.0))
            entry.score += PLAYBOOK_WEIGHT * confidence * (1.0 - position / (len(steps) + 1))
            entry.playbook = playbook_name
    for entry in ranked.values():
        entry.accepted, entry.rejected = feedback.get(entry.action, (0, 0))
        entry.score *= feedback_factor(entry.accepted, entry.rejected)
    best = sorted(ranked.values(), key=lambda e: (-e.score, e.action))
    return [entry for entry in best[:limit] if entry.score > 0]
