"""Mask customer PII in free text: e-mail addresses, IBANs, payment card numbers and phone numbers.

Pure and dependency-free (stdlib ``re``): it runs on every ticket before its text enters the knowledge
index, a log line or a suggestion shown to someone else, so it is built to be fast and to stay linear
on hostile input.

* ``find_pii(text)`` lists what it found as :class:`PiiMatch` (kind, start, end, text), sorted by
  start and never overlapping.
* ``mask_pii(text)`` replaces every match with ``[EMAIL]``, ``[IBAN]``, ``[CARD]`` or ``[PHONE]``.
  It is idempotent: ``mask_pii(mask_pii(x)) == mask_pii(x)``.

Detectors run in a fixed order — e-mail, IBAN, card, phone — and each later one sees the spans that
an earlier one claimed as an opaque separator, so an IBAN's digits are never also a card, and an
e-mail's digits never a phone. A placeholder in masked text is a separator exactly as a claimed span
is, which is what makes masking idempotent.

What counts as a match:

* **E-mail**: ``local@domain.tld`` — plus-addressing, dots, subdomains, any case, Unicode letters.
* **IBAN**: two letters, two check digits, then the BBAN, written solid or in groups of four
  separated by single spaces, any case. The length must be the country's (SWIFT IBAN registry) and
  the ISO 13616 mod-97 check must pass. A country code missing from the registry table is accepted
  on the mod-97 check alone (new IBAN countries keep appearing; a random code passes 1 time in 97).
* **Card**: 13–19 digits, solid or in groups separated by one kind of single separator (space or
  dash), first digit not 0, not preceded by ``+``, every group at least 3 digits long, and the Luhn
  check must pass. Inside a longer run of digit groups (``order 2026 4111 1111 1111 1111``) the
  longest Luhn-valid stretch of whole groups is masked.
* **Phone**: a shape that starts like a phone number — ``+`` (international), ``00`` (international
  from Europe), ``0`` (national trunk prefix, as in Germany) or a parenthesised area code — made of
  digit groups separated by a single space, ``-``, ``/`` or ``.`` (with optional spaces around the
  punctuation), with ``(0)`` and ``(0 30)``-style groups allowed. Then:

  - ``+``/``00``: 7–15 digits after the prefix (E.164), not counting a ``(0)`` trunk.
  - ``0``: 7–13 digits; when split into groups the first (area code with its 0) has 3–6 digits,
    and no ``.`` separators (that is what dates like ``05.11.2026`` look like).
  - ``(415) 555-2671`` and ``415-555-2671`` / ``415.555.2671`` / ``415 555 2671``, optionally after
    ``1-``: the North American 3-3-4 shape, with the same separator twice in the unbracketed form.

  A number never starts inside a word or right after ``#`` (order numbers), a currency sign, ``@``,
  or a digit followed by ``.``, ``,``, ``/``, ``:`` or ``-`` (dates, times, amounts, versions, IP
  addresses), and never ends right before a letter or a ``.``/``,``/``/``/``:``/``-`` + digit.

Known ambiguity, left as it is on purpose (masking a bit too much is the safe side for PII):

* Any 7–13 digit number with a leading 0 (``0123456789``, ``Kundennummer 0301234567``) and any
  7+ digit number after ``+`` or ``00`` looks exactly like a phone number and is masked as one.
* Ranges and times written with a leading zero and a dash (``0800-1700``) look like a German
  number with a four-digit area code and are masked.
* A phone number written with spaces swallows a following space-separated number while the digit
  count still fits (``+49 30 1234567 2026`` is one number); beyond the maximum the trailing groups
  are dropped again.
* North American numbers need an area code; ``555-2671`` alone stays. National numbers of other
  countries without a trunk 0 (``06 12 34 56 78`` is French and is matched; ``20 7946 0958`` is not).
* A Luhn-valid 13–19 digit number is masked as a card even when it is some other identifier
  (1 in 10 random numbers pass Luhn); a card written with separators in odd places (groups under
  3 digits, mixed separators) is not recognised.
* E-mail addresses with quoted local parts, IP-literal or dot-less domains are not recognised.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["PLACEHOLDERS", "PiiMatch", "find_pii", "mask_pii"]

PLACEHOLDERS: dict[str, str] = {"email": "[EMAIL]", "iban": "[IBAN]", "card": "[CARD]", "phone": "[PHONE]"}


@dataclass(frozen=True, slots=True)
class PiiMatch:
    """One piece of PII: its kind (``email``, ``iban``, ``card``, ``phone``) and where it is in the text."""

    kind: str
    start: int
    end: int
    text: str


# A claimed span is blanked with this in the working copy later detectors see. It must behave like the
# ``[`` / ``]`` of a placeholder in every look-around below (not a word character, digit, separator,
# sign or bracket), so that masked text is detected exactly as the working copy was: idempotence.
_FILL = "\x00"

_DIGIT = re.compile(r"[0-9]")
# Looks at one candidate in the working copy: the spans it accepts, and where the search goes on.
_Judge = Callable[[str, re.Match[str]], tuple[list[tuple[int, int]], int]]
_WORD_CHAR = re.compile(r"\w")
_WORD_RUN = re.compile(r"\w*")

# ---------------------------------------------------------------- e-mail
# The local part starts where the character before cannot belong to it and is taken possessively, so
# a long run without ``@`` costs one scan. Domain labels are possessive too; only the label loop can
# give back (so that ``a@b.com.`` ends before the full stop), one label at a time.
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]++@(?:[^\W_][\w-]*+\.)+[^\W\d_]{2,63}")

# ---------------------------------------------------------------- IBAN
# SWIFT IBAN registry (release 101): total IBAN length per country.
_IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip
_IBAN_MIN, _IBAN_MAX = 15, 34
# A candidate: country, check digits, then groups of four (each optionally after one space) and a short
# tail. It may run past the IBAN into a following word; the country's length decides where it ends.
_IBAN = re.compile(r"(?<!\w)[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]{4}){2,8}+(?: ?[A-Za-z0-9]{1,3}+)?+")

# ---------------------------------------------------------------- payment card
# A whole run of digit groups separated by single spaces or dashes. Groups glued to a word ("DE89
# 3704 ...", "4111x") are not dropped by the pattern but by the run's judge, so every run is looked at
# from its first group whatever stands before it: what decides must not be something the phone finder
# may mask afterwards, or masking twice would find more than masking once.
_CARD_RUN = re.compile(r"(?<![0-9])(?<![0-9][ -])[0-9]++(?:[ -][0-9]++)*+")
_CARD_GROUP = re.compile(r"[0-9]+")
_LUHN_DOUBLE = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)

# ---------------------------------------------------------------- phone
_SP = "[ \u00a0\u202f]"  # space, no-break space, narrow no-break space
_PAREN = rf"\({_SP}?[0-9]++(?:{_SP}[0-9]++){{0,2}}{_SP}?\)"  # (030)  (0 30)  (0)  (415)
_SEP = rf"(?:{_SP}?[-./]{_SP}?|{_SP})"
# Where a phone number may not start: inside a word, after + # @ or a currency/percent sign, or
# right after a digit and . , / : - (dates, times, amounts, versions, IP addresses, "T-" ids). The
# same after ")" as after a digit: a candidate may not end before what follows there either, so a
# number starting there could, once masked, let the candidate before it end and become valid.
_PHONE_BEFORE = r"(?<![\w+#@$€£¥%&)])(?<![\w)][.,/-])(?<![0-9)]:)"
_PHONE_AFTER = r"(?!\w|[.,/:-][0-9])"
_US_SHAPE = r"(?:1[-. ])?[2-9][0-9]{2}(?P<sep>[-. ])[2-9][0-9]{2}(?P=sep)[0-9]{4}"  # 415-555-2671, 1-800-555-0199
_PHONE = re.compile(
    rf"{_PHONE_BEFORE}"
    rf"(?:(?P<us>{_US_SHAPE})|(?:\+{_SP}?[0-9]++|0[0-9]*+|{_PAREN})(?:{_SEP}?(?:[0-9]++|{_PAREN})){{0,8}})"
    rf"{_PHONE_AFTER}"
)
_PHONE_TOKEN = re.compile(r"\+|\([^)]*\)|[0-9]+|[^0-9(+]+")
_SPACES = frozenset(" \u00a0\u202f")


def find_pii(text: str) -> list[PiiMatch]:
    """Every e-mail address, IBAN, payment card and phone number in ``text``, sorted by start, non-overlapping."""
    spans: list[tuple[int, int, str]] = []
    work = text
    if "@" in text:
        work, found = _scan(work, _EMAIL, _whole_match)
        spans.extend((start, end, "email") for start, end in found)
    if _DIGIT.search(text):
        work, found, iban_shaped = _find_ibans(work)
        spans.extend((start, end, "iban") for start, end in found)
        work = _blank(work, iban_shaped)
        work, found = _scan(work, _CARD_RUN, _cards_in_run)
        spans.extend((start, end, "card") for start, end in found)
        work, found = _scan(work, _PHONE, _phone_in_candidate)
        spans.extend((start, end, "phone") for start, end in found)
    spans.sort()
    return [PiiMatch(kind, start, end, text[start:end]) for start, end, kind in spans]


def mask_pii(text: str) -> str:
    """``text`` with every match of :func:`find_pii` replaced by its placeholder, e.g. ``[EMAIL]``."""
    matches = find_pii(text)
    if not matches:
        return text
    parts: list[str] = []
    position = 0
    for match in matches:
        parts.append(text[position : match.start])
        parts.append(PLACEHOLDERS[match.kind])
        position = match.end
    parts.append(text[position:])
    return "".join(parts)


def _scan(work: str, pattern: re.Pattern[str], judge: _Judge) -> tuple[str, list[tuple[int, int]]]:
    """Search ``work`` for ``pattern``, let ``judge`` accept spans from each candidate, blank them as they come.

    Blanking at once matters: the next candidate's look-behind must see an accepted neighbour exactly as
    it will see its placeholder in masked text, or masking twice would find more than masking once.
    """
    found: list[tuple[int, int]] = []
    position = 0
    while match := pattern.search(work, position):
        accepted, position = judge(work, match)
        if accepted:
            work = _blank(work, accepted)
            found.extend(accepted)
    return work, found


def _whole_match(work: str, match: re.Match[str]) -> tuple[list[tuple[int, int]], int]:
    return [match.span()], match.end()


def _blank(work: str, found: list[tuple[int, int]]) -> str:
    """``work`` with the sorted, non-overlapping ``found`` spans overwritten by the filler."""
    if not found:
        return work
    parts: list[str] = []
    position = 0
    for start, end in found:
        parts.append(work[position:start])
        parts.append(_FILL * (end - start))
        position = end
    parts.append(work[position:])
    return "".join(parts)


def _find_ibans(work: str) -> tuple[str, list[tuple[int, int]], list[tuple[int, int]]]:
    """Valid IBANs (blanked in the returned copy), and the IBAN-shaped stretches that failed the checks."""
    rejected: list[tuple[int, int]] = []

    def judge(work: str, match: re.Match[str]) -> tuple[list[tuple[int, int]], int]:
        end, valid = _iban_candidate(work, match)
        if valid:
            return [(match.start(), end)], end
        # through to the end of the word: what follows is then judged the same in masked text
        rejected.append((match.start(), _WORD_RUN.match(work, end).end()))
        return [], match.start() + 1

    work, found = _scan(work, _IBAN, judge)
    # A rejected stretch keeps its digits away from the card and phone finders, except where a
    # valid IBAN starts inside it ("XX00 DE89 3704 ...").
    shadows: list[tuple[int, int]] = []
    index = 0
    for start, end in rejected:
        while index < len(found) and found[index][1] <= start:
            index += 1
        if index < len(found):
            if found[index][0] <= start:
                continue
            end = min(end, found[index][0])
        if not shadows or start >= shadows[-1][1]:
            shadows.append((start, end))
        elif end > shadows[-1][1]:
            shadows[-1] = (shadows[-1][0], end)
    return work, found, shadows


def _iban_candidate(text: str, match: re.Match[str]) -> tuple[int, bool]:
    """Where the IBAN-shaped text at ``match`` ends, and whether it is a valid IBAN."""
    start = match.start()
    length = _IBAN_LENGTHS.get(text[start : start + 2].upper())
    if length is None:  # not in the registry table: the whole candidate, on the mod-97 check alone
        end = match.end()
        compact = match.group().replace(" ", "")
        if not _IBAN_MIN <= len(compact) <= _IBAN_MAX:
            return end, False
    else:
        end = start
        count = 0
        while count < length and end < match.end():
            if text[end] != " ":
                count += 1
            end += 1
        if count < length:
            return end, False
        compact = text[start:end].replace(" ", "")
    if end < len(text) and _WORD_CHAR.match(text, end):
        return end, False
    return end, _iban_checksum_ok(compact.upper())


def _iban_checksum_ok(iban: str) -> bool:
    """ISO 13616 / ISO 7064 mod 97-10: the rearranged number, letters as 10..35, leaves remainder 1."""
    if iban[2:4] in ("00", "01", "99"):
        return False
    rearranged = iban[4:] + iban[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def _cards_in_run(work: str, run: re.Match[str]) -> tuple[list[tuple[int, int]], int]:
    """Longest Luhn-valid stretches of whole groups in a run of digit groups, left to right."""
    string = run.group()
    if len(string) < 13:
        return [], run.end()
    groups = [(group.start(), group.end()) for group in _CARD_GROUP.finditer(string)]
    base = run.start()
    # A first group glued to a word or after "+" (a country code), and a last group glued to a word,
    # belong to something else: no card starts or ends there.
    first = 1 if base and (work[base - 1] == "+" or _WORD_CHAR.match(work, base - 1)) else 0
    stop = len(groups) - 1 if _WORD_CHAR.match(work, run.end()) else len(groups)
    found: list[tuple[int, int]] = []
    while first < stop:
        best = None
        start = groups[first][0]
        if string[start] != "0":
            digits = ""
            separator = None
            for last in range(first, stop):
                group_start, group_end = groups[last]
                if group_end - group_start < 3:
                    break
                if last > first:
                    between = string[groups[last - 1][1]]
                    if separator is None:
                        separator = between
                    elif between != separator:
                        break
                digits += string[group_start:group_end]
                if len(digits) > 19:
                    break
                if len(digits) >= 13 and _luhn_ok(digits):
                    best = last
        if best is None:
            first += 1
        else:
            found.append((base + start, base + groups[best][1]))
            first = best + 1
    return found, run.end()


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        total += _LUHN_DOUBLE[value] if index & 1 else value
    return total % 10 == 0


def _phone_in_candidate(work: str, match: re.Match[str]) -> tuple[list[tuple[int, int]], int]:
    end = match.end() if match.group("us") else _phone_end(work, match)
    if end is None:
        return [], match.start() + 1
    return [(match.start(), end)], end


def _phone_end(text: str, match: re.Match[str]) -> int | None:
    """End of the longest valid phone number that the candidate starts with, or None."""
    plus = False
    groups: list[tuple[str, bool, int]] = []  # (digits, parenthesised, end offset in the match)
    separators: list[str] = []  # separators[i] stands before groups[i + 1]
    pending = ""
    for token in _PHONE_TOKEN.finditer(match.group()):
        value = token.group()
        if value == "+":
            plus = True
        elif value[0].isdigit() or value[0] == "(":
            if groups:
                separators.append(pending)
            paren = value[0] == "("
            groups.append(("".join(filter(str.isdigit, value)) if paren else value, paren, token.end()))
            pending = ""
        else:
            pending = value
    # The longest valid prefix of whole groups. Every prefix is tried, not only those ending at a
    # space: a candidate that runs into the next number ("+1 (415) 555-2671(0)0151-...") would
    # otherwise be dropped whole here but found once the next number is masked.
    for count in range(len(groups), 0, -1):
        head, head_separators = groups[:count], separators[: count - 1]
        if _phone_ok(plus, head, head_separators) and not _continues_thousands(
            text, match.start(), head, head_separators
        ):
            return match.start() + groups[count - 1][2]
    return None


def _continues_thousands(text: str, start: int, groups: list[tuple[str, bool, int]], separators: list[str]) -> bool:
    """``2 050 000 000``: the candidate continues a number grouped in thousands, it is not a phone."""
    if start < 2 or text[start - 2] not in "0123456789" or text[start - 1] not in " .\u00a0\u202f":
        return False
    return all(len(digits) == 3 and not paren for digits, paren, _ in groups) and all(
        separator == text[start - 1] for separator in separators
    )


def _phone_ok(plus: bool, groups: list[tuple[str, bool, int]], separators: list[str]) -> bool:
    marks = {separator.strip(" \u00a0\u202f") for separator in separators}
    first, first_paren, _ = groups[0]
    if plus or (first.startswith("00") and not first_paren):
        # International: drop the + or 00 and an Italian-style "(0)" trunk, count the rest.
        digits = "".join(digits for digits, paren, _ in groups if not (paren and digits == "0"))
        if not plus:
            digits = digits[2:]
        if not digits or digits[0] == "0" or not 7 <= len(digits) <= 15:
            return False
        # +1.234.567: an amount with thousands separators, not a number
        return not ("." in marks and all(len(digits) == 3 for digits, _, _ in groups[1:]))
    if "." in marks:
        return False
    if first_paren and not first.startswith("0"):
        # North American (415) 555-2671
        if len(first) != 3 or first[0] not in "23456789" or any(paren for _, paren, _ in groups[1:]):
            return False
        return [len(digits) for digits, _, _ in groups[1:]] in ([3, 4], [7])
    # National with trunk 0: 030 1234567, (0 30) 12 34 56 7, 0151-12345678
    if len(groups) == 1 and first_paren:
        return False
    if len(groups) > 1 and not 3 <= len(first) <= 6:
        return False
    if len(first) < 2 or first[1] == "0":
        return False
    total = sum(len(digits) for digits, _, _ in groups)
    return 7 <= total <= 13
