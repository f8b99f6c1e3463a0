"""PII masking: a pure library, tested directly (no model, no app)."""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest

from knowledge.pii import PLACEHOLDERS, PiiMatch, find_pii, mask_pii


def kinds(text: str) -> list[str]:
    return [match.kind for match in find_pii(text)]


def assert_masked_alone(text: str, kind: str) -> None:
    """``text`` is found whole as one ``kind``, also inside a sentence, and masks to its placeholder."""
    assert find_pii(text) == [PiiMatch(kind, 0, len(text), text)]
    assert mask_pii(text) == PLACEHOLDERS[kind]
    sentence = f"Please use {text}, thanks."
    assert mask_pii(sentence) == f"Please use {PLACEHOLDERS[kind]}, thanks."


# ---------------------------------------------------------------- e-mail


@pytest.mark.parametrize(
    "email",
    [
        "jane.doe@example.com",
        "jane.doe+orders@example.com",
        "first_last-99@mail.support.example.co.uk",
        "JOHN.SMITH@EXAMPLE.ORG",
        "a@b.de",
        "kunde%team@beispiel-shop.de",
        "jürgen.müller@müller-gmbh.de",
    ],
)
def test_email_addresses_are_masked(email: str) -> None:
    assert_masked_alone(email, "email")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("write to jane@example.com.", "write to [EMAIL]."),
        ("<jane@example.com>", "<[EMAIL]>"),
        ("mailto:jane@example.com", "mailto:[EMAIL]"),
        ("(jane@example.com)", "([EMAIL])"),
        ("jane@example.com,joe@example.org", "[EMAIL],[EMAIL]"),
    ],
)
def test_email_boundaries(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


@pytest.mark.parametrize("text", ["@handle on twitter", "user@localhost", "a@b.c", "meet me @ 5", "foo@", "@@"])
def test_email_lookalikes_are_left(text: str) -> None:
    assert mask_pii(text) == text


# ---------------------------------------------------------------- IBAN

VALID_IBANS = [
    "DE89 3704 0044 0532 0130 00",
    "DE89370400440532013000",
    "GB82 WEST 1234 5698 7654 32",
    "GB82WEST12345698765432",
    "FR14 2004 1010 0505 0001 3M02 606",
    "FR1420041010050500013M02606",
    "NL91 ABNA 0417 1643 00",
    "NL91ABNA0417164300",
    "AT61 1904 3002 3457 3201",
    "AT611904300234573201",
    "CH93 0076 2011 6238 5295 7",
    "CH9300762011623852957",
    "de89 3704 0044 0532 0130 00",
    "gb82west12345698765432",
]


@pytest.mark.parametrize("iban", VALID_IBANS)
def test_valid_ibans_are_masked(iban: str) -> None:
    assert_masked_alone(iban, "iban")


@pytest.mark.parametrize(
    "text",
    [
        "DE89 3704 0044 0532 0130 01",  # mod-97 fails
        "DE89370400440532013001",
        "GB82 WEST 1234 5698 7654 33",
        "NL91 ABNA 0417 1643 01",
        "DE89 3704 0044 0532 0130",  # too short for DE
        "DE89370400440532013000123",  # too long for DE
        "DE00 3704 0044 0532 0130 00",  # check digits 00 never valid
        "AB12 CDEF 3456",  # just a code
    ],
)
def test_invalid_ibans_are_left_whole(text: str) -> None:
    # Not as an IBAN, and not piecewise as a card or phone number either.
    assert find_pii(text) == []


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("IBAN: DE89370400440532013000, BIC COBADEFFXXX", "IBAN: [IBAN], BIC COBADEFFXXX"),
        ("AT61 1904 3002 3457 3201 Bank Austria", "[IBAN] Bank Austria"),  # next word not taken in
        ("GB82 WEST 1234 5698 7654 32.", "[IBAN]."),
        ("XX00 DE89 3704 0044 0532 0130 00", "XX00 [IBAN]"),
    ],
)
def test_iban_boundaries(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


def test_iban_digits_are_not_a_card_or_phone() -> None:
    assert kinds("DE89 3704 0044 0532 0130 00") == ["iban"]
    assert kinds("DE89 3704 0044 0532 0130 01") == []


# ---------------------------------------------------------------- payment card


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",  # Visa
        "4111-1111-1111-1111",
        "4111111111111111",
        "4012 8888 8888 1881",
        "4222222222222",  # Visa, 13 digits
        "5555 5555 5555 4444",  # Mastercard
        "5105-1051-0510-5100",
        "2223 0031 2200 3222",  # Mastercard 2-series
        "3782 822463 10005",  # Amex 4-6-5
        "3714-496353-98431",
        "378282246310005",
        "6011 1111 1111 1117",  # Discover
        "3530 1113 3330 0000",  # JCB
    ],
)
def test_luhn_valid_cards_are_masked(card: str) -> None:
    assert_masked_alone(card, "card")


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1112",  # Luhn fails
        "4111111111111112",
        "5555-5555-5555-4445",
        "1234567890123",  # order number, Luhn fails
        "1234 5678 9012 3456",
        "4111111111111111abc",  # glued to a word
        "4111 1111-1111 1111",  # mixed separators
    ],
)
def test_non_cards_are_left(text: str) -> None:
    assert "card" not in kinds(text)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("order 2026 4111 1111 1111 1111 exp 12/27", "order 2026 [CARD] exp 12/27"),
        ("cards 4111111111111111 and 5555555555554444.", "cards [CARD] and [CARD]."),
        ("Karte: 4111-1111-1111-1111!", "Karte: [CARD]!"),
        ("4111 1111 1111 1111 1111", "[CARD] 1111"),  # 20 digits: the longest valid stretch of whole groups
        ("+4111111111111111", "+4111111111111111"),  # after "+": a country code, not a card
    ],
)
def test_card_boundaries(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


# ---------------------------------------------------------------- phone


@pytest.mark.parametrize(
    "phone",
    [
        # international
        "+49 30 1234567",
        "+49 (0)30 1234567",
        "+49-30-1234567",
        "+49 171 1234567",
        "+4930123456",
        "+1 (415) 555-2671",
        "+44 20 7946 0958",
        "0044 20 7946 0958",
        "0049 30 1234567",
        "+33 6 12 34 56 78",
        # German national
        "030 1234567",
        "030/1234567",
        "030 / 1234567",
        "030-123 45 67",
        "0171 1234567",
        "0151-12345678",
        "(0 30) 12 34 56 7",
        "(030) 1234567",
        "0301234567",
        "089 12345-67",
        # French national
        "06 12 34 56 78",
        # North American
        "(415) 555-2671",
        "415-555-2671",
        "415.555.2671",
        "415 555 2671",
        "1-800-555-0199",
    ],
)
def test_phone_numbers_are_masked(phone: str) -> None:
    assert_masked_alone(phone, "phone")


@pytest.mark.parametrize(
    "text",
    [
        # dates and times
        "2026-11-23",
        "23.11.2026",
        "05.11.2026",
        "05/11/2026",
        "2026/11/23",
        "14:30",
        "09:30-17:00",
        "2026-11-23 09:30:00",
        # amounts
        "€1,234.56",
        "1.234,56 EUR",
        "0,99 €",
        "$ 1,234,567.00",
        "+1.234.567,89 €",
        "2 050 000 000 EUR",
        # order and ticket numbers, plain numbers, years, versions, addresses
        "order #123456",
        "order #0301234567",
        "T-10042",
        "Ticket T-2026-11-23-0001",
        "1234567",
        "12345678",
        "year 2026",
        "v2.3.1",
        "v10.0.19041",
        "192.168.0.1",
        "10.0.0.138",
        "ISBN 978-3-16-148410-0",
        # too short, or not a phone shape
        "030 12",
        "+49 30",
        "555-2671",
        "20 7946 0958",
        "0 30 12",
    ],
)
def test_phone_lookalikes_are_left(text: str) -> None:
    assert find_pii(text) == []


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("Tel.: +49 30 1234567, Fax: +49 30 1234568", "Tel.: [PHONE], Fax: [PHONE]"),
        ("+49 30 1234567 / 0171 1234567", "[PHONE] / [PHONE]"),
        ("+49 30 1234567 0171 1234567", "[PHONE] [PHONE]"),  # both parts numbers on their own
        ("call 030 1234567 2026", "call [PHONE] 2026"),  # cut after the longest valid head
        ("Tel:0301234567.", "Tel:[PHONE]."),
        ("(0301234567)", "([PHONE])"),
        ("mobile 0171 1234567 or office 030 1234567", "mobile [PHONE] or office [PHONE]"),
    ],
)
def test_phone_boundaries(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


# ---------------------------------------------------------------- together


def test_mixed_text_masks_every_kind_in_place() -> None:
    text = (
        "Hello, my order #A10234 of 23.11.2026 was charged twice (€1,234.56). Refund to DE89 3704 0044 0532 "
        "0130 00 please, the card was 4111 1111 1111 1111. Call +49 30 1234567 or 0171 1234567, or write to "
        "jane.doe+orders@example.com. Ticket T-10042, app v2.3.1."
    )
    assert mask_pii(text) == (
        "Hello, my order #A10234 of 23.11.2026 was charged twice (€1,234.56). Refund to [IBAN] please, the "
        "card was [CARD]. Call [PHONE] or [PHONE], or write to [EMAIL]. Ticket T-10042, app v2.3.1."
    )
    assert kinds(text) == ["iban", "card", "phone", "phone", "email"]


def test_find_pii_positions() -> None:
    text = "Mail a.b@example.com, call 030 1234567, pay DE89370400440532013000 or 4111111111111111."
    matches = find_pii(text)
    assert matches == [
        PiiMatch("email", 5, 20, "a.b@example.com"),
        PiiMatch("phone", 27, 38, "030 1234567"),
        PiiMatch("iban", 44, 66, "DE89370400440532013000"),
        PiiMatch("card", 70, 86, "4111111111111111"),
    ]
    for match in matches:
        assert text[match.start : match.end] == match.text
    with pytest.raises(dataclasses.FrozenInstanceError):
        matches[0].kind = "phone"  # type: ignore[misc]


def test_overlapping_detectors_take_the_earlier_kind() -> None:
    # digits inside an e-mail address are part of the address, not a phone number or a card
    assert find_pii("0301234567@example.com") == [PiiMatch("email", 0, 22, "0301234567@example.com")]
    assert kinds("4111111111111111@example.com") == ["email"]
    # an IBAN right before a phone number: both, separately
    assert mask_pii("DE89370400440532013000/030 1234567") == "[IBAN]/[PHONE]"


def test_text_without_pii_is_returned_unchanged() -> None:
    text = "My parcel never arrived. Could you check what happened? Thanks!"
    assert find_pii(text) == []
    assert mask_pii(text) is text
    assert mask_pii("") == ""


@pytest.mark.parametrize(
    "text",
    [
        "Call +49 30 1234567 or mail jane@example.com, IBAN DE89 3704 0044 0532 0130 00, card 4111 1111 1111 1111.",
        "+1 (415) 555-2671(0)0151-12345678",
        "4111111111111111.4111 1111 1111 1111",
        "a@b.de0301234567",
        "DE89 3704 0044 0532 0130 00DE89 3704 0044 0532 0130 00.4111 1111 1111 1111",
        "+49 30 1234567+49 30 1234567",
        "x@y.com.z@w.com",
        "[EMAIL] [PHONE] [IBAN] [CARD]",
    ],
)
def test_masking_is_idempotent(text: str) -> None:
    once = mask_pii(text)
    assert mask_pii(once) == once


def test_masking_is_idempotent_on_random_mixtures() -> None:
    pieces = [
        "DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "4111 1111 1111 1111", "4111-1111-1111-1111",
        "+49 30 1234567", "(0 30) 12 34 56 7", "030/1234567", "415-555-2671", "(415) 555-2671", "1-800-555-0199",
        "a.b+c@x.example.de", "2026-11-23", "23.11.2026", "€1,234.56", "#123456", "T-10042", "[PHONE]",
        " ", "-", "/", ".", ",", "(", ")", "(0)", "+", "@", "0", "00", "1", "12", "123", "4111", "DE", "x", ":",
    ]  # fmt: skip
    generator = random.Random(20261123)
    for _ in range(3000):
        text = "".join(generator.choice(pieces) for _ in range(generator.randint(1, 10)))
        matches = find_pii(text)
        assert all(a.end <= b.start for a, b in itertools.pairwise(matches)), text
        assert all(text[m.start : m.end] == m.text for m in matches), text
        once = mask_pii(text)
        assert mask_pii(once) == once, text


# ---------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    "text",
    [
        "".join(random.Random(1).choice("0123456789 ") for _ in range(20_000)),
        "".join(random.Random(2).choice("0123456789 -./()+") for _ in range(20_000)),
        "0 " * 10_000,
        "00 " * 7_000,
        "123 " * 5_000,
        "4111 " * 5_000,
        "+1 " * 7_000,
        "(0 " * 7_000,
        "7" * 20_000,
        "a@a.a" * 4_000,
        "a@a.a " * 3_400,
        "a." * 10_000 + "@",
        "x@" + "a." * 10_000,
        "a@" * 10_000,
        "a" * 20_000 + "@example.com",
        "DE89 " * 4_000,
        "DE89" * 5_000,
        "(" * 20_000,
        "415-555-" * 2_500,
    ],
    ids=lambda text: repr(text[:12]),
)
def test_pathological_input_returns(text: str) -> None:
    matches = find_pii(text)
    assert all(a.end <= b.start for a, b in itertools.pairwise(matches))
    masked = mask_pii(text)
    assert mask_pii(masked) == masked
