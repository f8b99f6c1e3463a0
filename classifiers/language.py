"""Offline language detection (lingua ships its models inside the package)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

DEFAULT_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt")
# Below this many letters a guess is noise ("ok", "#A1234").
MIN_LETTERS = 4


class LanguageDetector:
    """ISO 639-1 codes out; ``None`` when the text is too short to tell."""

    def __init__(self, languages: Sequence[str] = DEFAULT_LANGUAGES) -> None:
        self.languages = tuple(code.lower() for code in languages)
        self._detector: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> LanguageDetector:
        self.detect("warm up the language models")
        return self

    def detect(self, text: str) -> str | None:
        if sum(ch.isalpha() for ch in text[:500]) < MIN_LETTERS:
            return None
        language = self._loaded().detect_language_of(text[:2_000])
        return None if language is None else language.iso_code_639_1.name.lower()

    def _loaded(self) -> Any:
        if self._detector is None:
            with self._lock:
                if self._detector is None:
                    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

                    chosen = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in self.languages]
                    self._detector = LanguageDetectorBuilder.from_languages(*chosen).build()
        return self._detector
