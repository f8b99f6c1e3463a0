"""Offline language detection (lingua ships its models inside the package)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

DEFAULT_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt")
# Below this many letters a guess is noise ("ok", "#A1234").
MIN_LETTERS = 4
# Below even odds the detector is guessing: short texts share most of their letter n-grams across languages
# ("reset my password" came out Italian at 0.38, "parcel lost" Portuguese at 0.21, "refund" German at 0.31).
MIN_CONFIDENCE = 0.5


class LanguageDetector:
    """ISO 639-1 codes out. ``fallback``: the desk's main language, the answer for a text no language has even
    odds on (a short or mixed text is most likely in it); ``None`` without one, and for a text too short to
    tell at all."""

    def __init__(self, languages: Sequence[str] = DEFAULT_LANGUAGES, *, fallback: str | None = None) -> None:
        self.languages = tuple(code.lower() for code in languages)
        self.fallback = fallback.lower() if fallback else None
        if self.fallback is not None and self.fallback not in self.languages:
            raise ValueError(f"the fallback language {fallback!r} is not one of {', '.join(self.languages)}")
        self._detector: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> LanguageDetector:
        self.detect("warm up the language models")
        return self

    def detect(self, text: str) -> str | None:
        if sum(ch.isalpha() for ch in text[:500]) < MIN_LETTERS:
            return None
        ranked = self._loaded().compute_language_confidence_values(text[:2_000])
        if not ranked or ranked[0].value < MIN_CONFIDENCE:
            return self.fallback
        return str(ranked[0].language.iso_code_639_1.name.lower())

    def _loaded(self) -> Any:
        if self._detector is None:
            with self._lock:
                if self._detector is None:
                    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

                    chosen = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in self.languages]
                    self._detector = LanguageDetectorBuilder.from_languages(*chosen).build()
        return self._detector
