"""Mask customer PII in free text: e-mail addresses, IBANs, payment card numbers and phone numbers.

Pure and dependency-free (stdlib ``re``). It runs on every ticket before the text enters the knowledge
index, a log line or a suggestion shown to someone else, so it is built to be fast (a few µs for text
without digits or "@", tens of µs for a ticket with numbers in it) and to stay linear on hostile input.

* ``find_pii(text)`` lists what it found as :class:`PiiMatch` (kind, start, end, text), sorted by
  start and never overlapping.
* ``mask_pii(text)`` replaces every match with ``[EMAIL]``, ``[IBAN]``, ``[CARD]`` or ``[PHONE]``,
  and is idempotent: ``mask_pii(mask_pii(x)) == mask_pii(x)``.

The searches run in a fixed order — e-mail, IBAN, card, phone — on a working copy in which every span
already claimed is blanked, so an IBAN's digits never become a card and an address's digits never a
phone. A blanked span looks to every later search exactly as a placeholder does in masked text, and
nothing that decides a match may be something a later search could mask: that is what keeps masking
idempotent (the comments at the patterns say where this shaped them).

What is matched:

* **E-mail**: ``local@domain.tld`` with plus-addressing, dots, subdomains, any case, Unicode letters.
* **IBAN**: two letters, two check digits and the BBAN, solid or in groups of four separated by single
  spaces, any case. The length must be the country's (SWIFT IBAN registry) and the ISO 13616 mod-97
  check must pass. A country code missing from the registry table is accepted on the mod-97 check
  alone (IBAN countries keep being added). Text shaped like an IBAN that fails the checks is left
  alone, and its digits are not offered to the card and phone searches either.
* **Card**: 13–19 digits, solid or in groups of at least 3 digits separated by one kind of single
  separator (space or dash), not starting with 0, passing the Luhn check. Inside a longer run of digit
  groups (``order 2026 4111 1111 1111 1111``) the longest Luhn-valid stretch of whole groups is
  masked; a group right after ``+`` (a country code) or glued to a word never starts or ends a card.
* **Phone**: a candidate starts with ``+``, ``00``, a trunk ``0`` or a parenthesised area code, and
  goes on with digit groups separated by a space, ``-``, ``/`` or ``.`` (with spaces allowed around the
  punctuation), ``(0)`` and ``(0 30)`` groups included. It is masked when its digits fit one of:

  - ``+`` or ``00``: 7–15 digits after the prefix (E.164), a ``(0)`` trunk not counted, not starting
    with 0, no spaced punctuation, and not ``+1.234.567`` (an amount in thousands).
  - trunk ``0``: 7–13 digits, the first group (area code with its 0) 3–6 digits long when the number
    is split, no ``.`` separators (dates such as ``05.11.2026`` look like that), spaced punctuation
    only after the area code (``030 / 1234567``); or the French ``06 12 34 56 78``.
  - North American: ``(415) 555-2671``, and ``415-555-2671``, ``415.555.2671``, ``415 555 2671``,
    ``1-800-555-0199`` with the same separator twice.

  A candidate that is too long is cut at a group boundary: where both parts are numbers on their own
  (``+49 30 1234567 0171 1234567``), else after its longest valid head (``030 1234567 2026``).
  A number never starts inside a word, right after ``+ # @ )``, a currency or percent sign, or after
  a digit or ``)`` followed by ``. , / -`` or ``:`` (dates, times, amounts, versions, IP addresses,
  ``T-10042``), and never ends right before a letter or digit or before ``. , / : -`` and a digit.

Known ambiguity, left so on purpose (a bit too much masking is the safe side for PII):

* Any 7–13 digit number with a leading 0 (``Kundennummer 0301234567``) and any 7–15 digit number
  after ``+`` or ``00`` looks exactly like a phone number and is masked as one; so are ranges written
  with a leading zero such as ``0800-1700`` (a German number with a four-digit area code).
* A phone number written with spaces takes in a following space-separated number while the digits
  still fit (``+49 30 1234567 2026`` is one number).
* North American numbers need their area code (``555-2671`` stays), and other countries' national
  formats without a trunk 0 are not recognised (``20 7946 0958`` stays; ``+44 20 7946 0958`` does not).
* Any Luhn-valid 13–19 digit number is masked as a card, whatever it really is (1 in 10 random
  numbers pass Luhn); a card written with odd separators (groups under 3 digits, mixed separators) is
  not recognised, nor one right after IBAN-shaped text that failed its checks (``DE12 4111 ...``).
* Digits are ASCII digits; other scripts' digits are not recognised. E-mail addresses with quoted
  local parts, IP-literal or dot-less domains are not recognised.
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


_Span = tuple[int, int]
# Looks at one candidate in the working copy: the spans it accepts, and where the search goes on.
_Judge = Callable[[str, re.Match[str]], tuple[list[_Span], int]]

# A claimed span is blanked with this in the working copy that later searches see. It must behave like
# the "[" and "]" of a placeholder in every look-around below (no word character, digit, separator,
# sign or bracket), so that masked text is judged exactly as the working copy was: idempotence.
_FILL = "\x00"

_DIGIT = re.compile(r"[0-9]")
_WORD_CHAR = re.compile(r"\w")
_WORD_RUN = re.compile(r"\w*")

# Patterns start with a plain character class and check what stands before it with look-behinds
# placed after that first character: a pattern that starts with a look-behind is tried at every
# position of the text, which costs several times more. Digits are ASCII only ([0-9], not \d).

# ---------------------------------------------------------------- e-mail
# Matched from each "@" found with str.find, the local part found by looking back from there, so
# text without "@" costs nothing. Domain labels are possessive; only the label loop gives back (so
# that "a@b.com." ends before the full stop), one label at a time.
_EMAIL_LOCAL = re.compile(r"[\w.%+-]*")
_EMAIL = re.compile(r"[\w.%+-]++@(?:[^\W_][\w-]*+\.)+[^\W\d_]{2,63}")

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
_IBAN_LETTERS = str.maketrans({chr(code): str(code - 55) for code in range(ord("A"), ord("Z") + 1)})  # A=10 .. Z=35
# A candidate, matched from its first check digit (two letters at a word start before it): check
# digits, then groups of four, each after an optional single space, and a short tail. It may run past
# the IBAN into the next word; the country's length decides where the IBAN ends.
_IBAN = re.compile(r"[0-9](?<=[A-Za-z]{2}.)(?<!\w...)[0-9](?: ?[A-Za-z0-9]{4}){2,8}+(?: ?[A-Za-z0-9]{1,3}+)?+")

# ---------------------------------------------------------------- payment card
# A whole run of digit groups separated by single spaces or dashes, at least 13 characters long.
# Groups glued to a word ("DE89 3704 ...", "4111x") are left to the run's judge rather than to the
# pattern, so that every run is looked at from its first group whatever stands before it: what
# decides must not be something the phone search may mask later, or a second masking would find more.
_CARD_RUN = re.compile(r"[0-9](?<![0-9].)(?<![0-9][ -].)(?=[0-9 -]{12})[0-9]*+(?:[ -][0-9]++)*+")
_CARD_GROUP = re.compile(r"[0-9]+")
_LUHN_DOUBLED = str.maketrans("0123456789", "0246813579")  # digit -> digit sum of its double

# ---------------------------------------------------------------- phone
_SPACES = " \u00a0\u202f"  # space, no-break space, narrow no-break space
_SP = f"[{_SPACES}]"
_PAREN_REST = rf"{_SP}?[0-9]++(?:{_SP}[0-9]++){{0,2}}{_SP}?\)"  # (030)  (0 30)  (0)  (415), after the "("
_SEP = rf"(?:{_SP}?[-./]{_SP}?|{_SP})"
# Where a phone number may not start (checked on the character before the first one): inside a word;
# after + # @ ) or a currency or percent sign; after a digit or ")" and then . , / - (dates, amounts,
# versions, IP addresses, "T-" ids) or ":" (times). ")" counts like a digit because a candidate may
# not end before what follows it either: a number starting there could, once masked, let the
# candidate before it end and become valid, and a second masking would find more than the first.
_PHONE_BEFORE = r"(?<![\w+#@$€£¥%&)].)(?<![\w)][.,/-].)(?<![0-9)]:.)"
_PHONE_AFTER = r"(?!\w|[.,/:-][0-9])"
_PHONE = re.compile(
    rf"[+(0-9]{_PHONE_BEFORE}"
    # North American 415-555-2671, 415.555.2671, 415 555 2671, 1-800-555-0199: same separator twice
    rf"(?:(?<=[2-9])(?P<us>[0-9]{{2}}(?P<sep>[-. ])[2-9][0-9]{{2}}(?P=sep)[0-9]{{4}})"
    rf"|(?<=1)(?P<us1>[-. ][2-9][0-9]{{2}}(?P<sep1>[-. ])[2-9][0-9]{{2}}(?P=sep1)[0-9]{{4}})"
    # everything else starts with +, 0 or "(", then up to 8 more groups, judged by _phone_end
    rf"|(?:(?<=\+){_SP}?[0-9]++|(?<=0)[0-9]++|(?<=\(){_PAREN_REST})"
    rf"(?:{_SEP}?(?:[0-9]++|\({_PAREN_REST})){{0,8}})"
    rf"{_PHONE_AFTER}"
)
_PHONE_GROUP = re.compile(r"\([^)]*\)|[0-9]+")
_NO_SPACES = str.maketrans("", "", _SPACES)
_NO_COUNTRY = re.compile(rf"\+{_SP}?0|00{_SEP}?0")  # a country code never starts with 0


def find_pii(text: str) -> list[PiiMatch]:
    """Every e-mail address, IBAN, payment card and phone number in ``text``, sorted by start, non-overlapping."""
    spans: list[tuple[int, int, str]] = []
    work = text
    if "@" in text:
        work, found = _find_emails(work)
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


def _scan(work: str, pattern: re.Pattern[str], judge: _Judge) -> tuple[str, list[_Span]]:
    """Search ``work`` for ``pattern``, let ``judge`` accept spans of each candidate, blank them at once.

    Blanking at once matters: the next candidate's look-behind must see an accepted neighbour as it
    will see its placeholder in masked text, or masking twice would find more than masking once.
    """
    found: list[_Span] = []
    position = 0
    while match := pattern.search(work, position):
        accepted, position = judge(work, match)
        if accepted:
            work = _blank(work, accepted)
            found.extend(accepted)
    return work, found


def _blank(work: str, spans: list[_Span]) -> str:
    """``work`` with the sorted, non-overlapping ``spans`` overwritten by the filler."""
    if not spans:
        return work
    parts: list[str] = []
    position = 0
    for start, end in spans:
        parts.append(work[position:start])
        parts.append(_FILL * (end - start))
        position = end
    parts.append(work[position:])
    return "".join(parts)


# ---------------------------------------------------------------- e-mail


def _find_emails(work: str) -> tuple[str, list[_Span]]:
    found: list[_Span] = []
    previous = -1
    at = work.find("@")
    while at != -1:
        # The local part: the whole run of local-part characters that ends at this "@", looked for back
        # to the previous "@" (so each character is looked at once). No length limit: a limit would
        # depend on characters that a later search may mask, and masking twice would find more.
        length = _EMAIL_LOCAL.match(work[previous + 1 : at][::-1]).end()
        match = _EMAIL.match(work, at - length) if length else None
        previous = at
        if match:
            work = _blank(work, [match.span()])
            found.append(match.span())
            at = work.find("@", match.end())
        else:
            at = work.find("@", at + 1)
    return work, found


# ---------------------------------------------------------------- IBAN


def _find_ibans(work: str) -> tuple[str, list[_Span], list[_Span]]:
    """Valid IBANs (blanked in the returned copy), and the IBAN-shaped stretches that failed the checks."""
    rejected: list[_Span] = []

    def judge(work: str, match: re.Match[str]) -> tuple[list[_Span], int]:
        start = match.start() - 2
        end, valid = _iban_candidate(work, start, match.end())
        if valid:
            return [(start, end)], end
        # to the end of the word: what follows is then judged the same in masked text
        rejected.append((start, _WORD_RUN.match(work, end).end()))
        return [], match.start() + 1

    work, found = _scan(work, _IBAN, judge)
    # A rejected stretch keeps its digits from the card and phone searches, except where a valid IBAN
    # starts inside it ("XX00 DE89 3704 ...").
    shadows: list[_Span] = []
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


def _iban_candidate(work: str, start: int, candidate_end: int) -> tuple[int, bool]:
    """Where the IBAN-shaped text from ``start`` ends, and whether it is a valid IBAN."""
    candidate = work[start:candidate_end]
    compact = candidate.replace(" ", "")
    length = _IBAN_LENGTHS.get(candidate[:2].upper())
    if length is None:  # not in the registry table: the whole candidate, on the mod-97 check alone
        end = candidate_end
        if not _IBAN_MIN <= len(compact) <= _IBAN_MAX:
            return end, False
    else:
        # the end of the country's number of characters, counting the spaces among them
        end = length
        space = candidate.find(" ")
        while space != -1 and space < end:
            end += 1
            space = candidate.find(" ", space + 1)
        end = start + min(end, len(candidate))
        if len(compact) < length:
            return end, False
        compact = compact[:length]
    if _WORD_CHAR.match(work, end):
        return end, False
    return end, _iban_checksum_ok(compact.upper())


def _iban_checksum_ok(iban: str) -> bool:
    """ISO 13616 / ISO 7064 mod 97-10: the rearranged number, letters as 10..35, leaves remainder 1."""
    if iban[2:4] in ("00", "01", "99"):
        return False
    return int((iban[4:] + iban[:4]).translate(_IBAN_LETTERS)) % 97 == 1


# ---------------------------------------------------------------- payment card


def _cards_in_run(work: str, run: re.Match[str]) -> tuple[list[_Span], int]:
    """Longest Luhn-valid stretches of whole groups in a run of digit groups, left to right."""
    string = run.group()
    if len(string) - string.count(" ") - string.count("-") < 13:
        return [], run.end()
    groups = [(group.start(), group.end()) for group in _CARD_GROUP.finditer(string)]
    base = run.start()
    # A first group glued to a word or after "+" (a country code), and a last group glued to a word,
    # belong to something else: no card starts or ends there.
    first = 1 if base and (work[base - 1] == "+" or _WORD_CHAR.match(work, base - 1)) else 0
    stop = len(groups) - 1 if _WORD_CHAR.match(work, run.end()) else len(groups)
    found: list[_Span] = []
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
    """Luhn: every second digit from the right doubled (digit sum), the total a multiple of 10."""
    return sum(map(int, digits[-1::-2] + digits[-2::-2].translate(_LUHN_DOUBLED))) % 10 == 0


# ---------------------------------------------------------------- phone


def _phone_in_candidate(work: str, match: re.Match[str]) -> tuple[list[_Span], int]:
    end = match.end() if match.group("us") or match.group("us1") else _phone_end(work, match)
    if end is None:
        return [], match.start() + 1
    return [(match.start(), end)], end


def _phone_end(work: str, match: re.Match[str]) -> int | None:
    """End of the phone number that the candidate starts with, or None.

    Whole groups only: the candidate itself when valid, else the longest valid head whose rest is a
    valid number too ("+49 30 1234567 0171 1234567"), else the longest valid head. Validity depends on
    the groups alone, never on what follows: a candidate dropped here but with a number found inside it
    must stay dropped once that number is masked.
    """
    text = match.group()
    if _NO_COUNTRY.match(text):
        return None  # +0... or 000...: no head can be valid
    plus = text[0] == "+"
    groups: list[str] = []  # digits of each group
    parens: list[bool] = []  # whether the group is parenthesised
    ends: list[int] = []  # where the group ends in the candidate
    separators: list[str] = []  # separators[i] stands between groups i and i + 1
    for group in _PHONE_GROUP.finditer(text, 1 if plus else 0):
        value = group.group()
        if ends:
            separators.append(text[ends[-1] : group.start()])
        paren = value[0] == "("
        groups.append(value[1:-1].translate(_NO_SPACES) if paren else value)
        parens.append(paren)
        ends.append(group.end())
    marks = [separator.strip(_SPACES) for separator in separators]
    # punctuation with spaces around it ("030 / 1234567")
    spaced = [len(separator) > 1 and mark != "" for separator, mark in zip(separators, marks, strict=True)]

    def valid(begin: int, end: int) -> bool:
        return _phone_ok(
            plus and begin == 0,
            groups[begin:end],
            parens[begin:end],
            separators[begin : end - 1],
            marks[begin : end - 1],
            spaced[begin : end - 1],
        ) and not (begin == 0 and _continues_thousands(work, match.start(), groups[:end], parens[:end], separators))

    count = len(groups)
    if valid(0, count):
        return match.start() + ends[-1]
    longest = None
    for end in range(count - 1, 0, -1):
        if valid(0, end):
            if not marks[end - 1] and valid(end, count):
                return match.start() + ends[end - 1]
            if longest is None:
                longest = end
    return None if longest is None else match.start() + ends[longest - 1]


def _continues_thousands(work: str, start: int, groups: list[str], parens: list[bool], separators: list[str]) -> bool:
    """``2 050 000 000``: the candidate continues a number grouped in thousands, it is not a phone."""
    if start < 2 or work[start - 2] not in "0123456789" or work[start - 1] not in " ." + _SPACES:
        return False
    before = work[start - 1]
    return (
        all(len(digits) == 3 for digits in groups)
        and not any(parens)
        and all(separator == before for separator in separators[: len(groups) - 1])
    )


def _phone_ok(
    plus: bool, groups: list[str], parens: list[bool], separators: list[str], marks: list[str], spaced: list[bool]
) -> bool:
    """Whether these groups, on their own, look like one phone number (see the module docstring)."""
    first = groups[0]
    if plus or (first[:2] == "00" and not parens[0]):
        # International: drop the + or 00 and a "(0)" trunk as in +49 (0)30, count the rest (E.164).
        digits = "".join(digits for digits, paren in zip(groups, parens, strict=True) if not (paren and digits == "0"))
        if not plus:
            digits = digits[2:]
        if True in spaced or not digits or digits[0] == "0" or not 7 <= len(digits) <= 15:
            return False
        # +1.234.567: an amount with thousands separators, not a number
        return not ("." in marks and all(len(digits) == 3 for digits in groups[1:]))
    if parens[0] and first[0] != "0":
        # North American (415) 555-2671
        if True in spaced or "." in marks or len(first) != 3 or first[0] not in "23456789" or True in parens[1:]:
            return False
        return [len(digits) for digits in groups[1:]] in ([3, 4], [7])
    # National with trunk 0: 030 1234567, (0 30) 12 34 56 7, 0151-12345678, French 06 12 34 56 78.
    # Spaced punctuation only between the area code and the rest.
    if first[0] != "0" or first[1:2] in ("", "0") or (len(groups) == 1 and parens[0]) or True in spaced[1:]:
        return False
    lengths = [len(digits) for digits in groups]
    if lengths == [2, 2, 2, 2, 2] and not parens[0] and len(set(separators)) == 1:
        return True
    if "." in marks or (len(groups) > 1 and not 3 <= len(first) <= 6):
        return False
    return 7 <= sum(lengths) <= 13
