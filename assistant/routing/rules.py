"""Explicit routing rules: checked before the model, first match wins, recorded in the decision."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RoutingRule:
    """Every condition given must hold; ``keywords`` holds when any one keyword occurs as a word."""

    name: str
    department: str
    keywords: tuple[str, ...] = ()
    pattern: str | None = None
    channels: tuple[str, ...] = ()
    customer_tiers: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    needs_human_triage: bool = False
    _compiled: tuple[re.Pattern[str], ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RoutingRule:
        known = {
            "name",
            "department",
            "keywords",
            "pattern",
            "channels",
            "customer_tiers",
            "sources",
            "needs_human_triage",
        }
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"rule {raw.get('name')!r}: unknown fields {sorted(unknown)}")
        if not raw.get("name") or not raw.get("department"):
            raise ValueError("every rule needs a name and a department")
        keywords = tuple(str(k).lower() for k in raw.get("keywords", ()))
        pattern = raw.get("pattern")
        if not (keywords or pattern or raw.get("channels") or raw.get("customer_tiers") or raw.get("sources")):
            raise ValueError(f"rule {raw['name']!r} has no condition and would match every ticket")
        compiled = []
        if keywords:
            compiled.append(re.compile(r"\b(" + "|".join(re.escape(k) for k in keywords) + r")\b", re.I))
        if pattern:
            try:
                compiled.append(re.compile(pattern, re.IGNORECASE))
            except re.error as exc:
                raise ValueError(f"rule {raw['name']!r}: bad pattern: {exc}") from exc
        return cls(
            name=str(raw["name"]),
            department=str(raw["department"]),
            keywords=keywords,
            pattern=pattern,
            channels=tuple(str(c).lower() for c in raw.get("channels", ())),
            customer_tiers=tuple(str(t).lower() for t in raw.get("customer_tiers", ())),
            sources=tuple(str(s) for s in raw.get("sources", ())),
            needs_human_triage=bool(raw.get("needs_human_triage", False)),
            _compiled=tuple(compiled),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "department": self.department,
            "keywords": list(self.keywords),
            "pattern": self.pattern,
            "channels": list(self.channels),
            "customer_tiers": list(self.customer_tiers),
            "sources": list(self.sources),
            "needs_human_triage": self.needs_human_triage,
        }

    def matches(self, *, text: str, channel: str | None, customer_tier: str | None, source: str | None) -> bool:
        if self.channels and (channel or "").lower() not in self.channels:
            return False
        if self.customer_tiers and (customer_tier or "").lower() not in self.customer_tiers:
            return False
        if self.sources and source not in self.sources:
            return False
        return all(expression.search(text) for expression in self._compiled)


def load_rules(path: str | Path | None) -> list[RoutingRule]:
    """``{"rules": [...]}`` or a bare list, from a JSON file."""
    if path is None:
        return []
    data = json.loads(Path(path).read_text(encoding="utf-8-sig"))  # a BOM, as Windows editors write one
    items = data.get("rules", []) if isinstance(data, dict) else data
    rules = [RoutingRule.from_dict(item) for item in items]
    names = [rule.name for rule in rules]
    if len(names) != len(set(names)):
        raise ValueError("rule names must be unique")
    return rules


def first_match(
    rules: Sequence[RoutingRule], *, text: str, channel: str | None, customer_tier: str | None, source: str | None
) -> RoutingRule | None:
    for rule in rules:
        if rule.matches(text=text, channel=channel, customer_tier=customer_tier, source=source):
            return rule
    return None
