"""Private data in a post: e-mail addresses, phone numbers, card and IBAN numbers and the plan's
own patterns; finding them, redacting them and masking them for public output."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

__all__ = [
    "DEFAULT_PHONE_REGIONS",
    "EXAMPLES",
    "EXAMPLE_PATTERNS",
    "EXAMPLE_PLAN_PATTERN",
    "LABELS",
    "MASK",
    "NEAR_MISSES",
    "PHONE_CANDIDATES",
    "Example",
    "Finding",
    "SensitivePattern",
    "compile_patterns",
    "find_sensitive",
    "leaks",
    "mask",
    "mask_private",
    "redact",
]


class Finding(NamedTuple):
    """A span of private data in a text: `text[start:end]` is of `kind` (email, phone, card,
    iban, pattern); `label` names what a plan pattern finds ("contract number")."""

    kind: str
    start: int
    end: int
    label: str | None = None


class SensitivePattern(NamedTuple):
    """One of the plan's `sensitive_patterns`, compiled, with what it finds."""

    regex: re.Pattern[str]
    label: str = "private data"


# Regions tried for numbers written without a country code ("06 12 34 56 78"); numbers with
# "+" or "00" are checked for every country.
DEFAULT_PHONE_REGIONS: tuple[str, ...] = (
    "US", "GB", "FR", "DE", "ES", "IT", "NL", "BE", "CH", "CA", "AU", "IN", "BR", "MX", "JP",
)  # fmt: skip

_EMAIL = re.compile(
    r"(?<![\w.+@-])[\w.%+-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}\b"
)
# An "@" glued to a word: mentions ("@acme") are preceded by a space and skip the e-mail scan.
_EMAIL_HINT = re.compile(r"@(?<=[\w.%+-]@)")
# One scan finds both IBAN candidates (two capitals, two digits, ...) and digit runs that may
# be phone or card numbers; most posts have neither and pay only for this scan, which starts
# from one character class so the engine skips ahead between candidates.
_NUMBERS = re.compile(
    r"[A-Z+(\d](?:"
    r"(?<=[A-Z])(?P<iban>[A-Z]\d\d(?:[ ]?[A-Z0-9]){11,30})"
    r"|(?<=[+(\d])(?P<num>[\d \u00a0().\-/]*\d\)?)"
    r")"
)
# Phone and card numbers have seven digits at least, and so do most IBANs; an IBAN whose
# account part is letters (Qatar, Kuwait...) starts with two capitals and two digits. Most
# posts have neither and skip the number scan. Anchored (`match`), the digit test is linear:
# the possessive \D*+ never gives back what it took.
_SEVEN_DIGITS = re.compile(r"(?:\D*+\d){7}")
_IBAN_START = re.compile(r"[A-Z]{2}\d\d")
_CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
_DATE = re.compile(
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2}))(?!\d)"
)
_YEAR_CHUNK = re.compile(r"(?:19|20)\d\d")
_VERSION = re.compile(r"\d+(?:\.\d+){2,}|\d\.\d+(?:\.\d+)*")
_MAGNITUDE = re.compile(r"[1-9]\d{0,2}0{4,}")
_CURRENCY_BEFORE = frozenset("$€£¥₹₽₩¢")
_UNITS_AFTER = re.compile(
    r"\s?(?:[$€£¥₹%‰°]|(?:k|m|bn|eur|usd|gbp|chf|dollars?|euros?|pounds?|km|kg|mb|gb|tb|ms"
    r"|px|users|views|followers|people|times|x)\b)",
    re.IGNORECASE,
)
# IBAN lengths of the countries that use one (SWIFT registry); unknown countries: 15..34.
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
# Triage checks at most this many phone-like runs per post: a post full of numbers is no reason
# to spend milliseconds on it. Masking for output checks them all.
PHONE_CANDIDATES = 4


def compile_patterns(
    patterns: Iterable[str | tuple[str, str]],
) -> list[SensitivePattern]:
    """The plan's `sensitive_patterns` (a regular expression, or one with its label)
    compiled; a bad one raises ValueError naming it."""
    compiled = []
    for pattern in patterns:
        source, label = (pattern, "private data") if isinstance(pattern, str) else pattern
        try:
            compiled.append(SensitivePattern(re.compile(source), label))
        except re.error as exc:
            raise ValueError(f"bad sensitive pattern {source!r}: {exc}") from None
    return compiled


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i & 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_valid(compact: str) -> bool:
    # ISO 13616: move the first four characters to the end, letters to numbers, mod 97 == 1.
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _find_iban(text: str, start: int, end: int) -> Finding | None:
    # The candidate may run into following words ("... 189 THANKS"): try the country's exact
    # length, or every plausible length from the longest down.
    positions = [i for i in range(start, end) if text[i] != " "]
    compact = "".join(text[i] for i in positions)
    known = _IBAN_LENGTHS.get(compact[:2])
    lengths: Iterable[int] = (known,) if known is not None else range(min(len(compact), 34), 14, -1)
    for length in lengths:
        if length <= len(compact) and _iban_valid(compact[:length]):
            return Finding("iban", start, positions[length - 1] + 1)
    return None


@lru_cache(maxsize=1024)
def _region_plausible(region: str) -> tuple[str | None, frozenset[int]]:
    """The region's trunk prefix and possible national number lengths."""
    import phonenumbers  # its metadata loads on the first number worth checking

    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None:
        return None, frozenset()
    return meta.national_prefix, frozenset(meta.general_desc.possible_length or ())


@lru_cache(maxsize=4096)
def _is_phone(candidate: str, regions: tuple[str, ...]) -> bool:
    import phonenumbers

    digits = "".join(ch for ch in candidate if ch.isdigit())
    international = candidate.lstrip("(").startswith("+") or digits.startswith("00")
    try:
        if international:
            number = "+" + digits[2:] if digits.startswith("00") else candidate
            return phonenumbers.is_valid_number(phonenumbers.parse(number, None))
        for region in regions:
            prefix, lengths = _region_plausible(region)
            national = digits
            if prefix:
                # Without the trunk prefix ("0" in Europe, "1" in North America), a run of
                # digits is far more likely an order number or a year than a phone number.
                if digits.startswith(prefix):
                    national = digits[len(prefix) :]
                elif prefix != "1":
                    continue
            if len(national) not in lengths:
                continue
            if phonenumbers.is_valid_number(phonenumbers.parse(candidate, region)):
                return True
    except phonenumbers.NumberParseException:
        return False
    return False


def _phone_like(text: str, start: int, end: int) -> bool:
    """Cheap rejections before phonenumbers: years, dates, versions, prices, round numbers."""
    run = text[start:end]
    digits = "".join(ch for ch in run if ch.isdigit())
    if not 7 <= len(digits) <= 15:
        return False
    # Glued to a word, a path, a version or a price ("v2", "#123", "$ 1 299 000")?
    before = text[start - 1] if start else " "
    if before.isalnum() or before in "#.,:/_-" or before in _CURRENCY_BEFORE:
        return False
    if before == " " and start >= 2 and text[start - 2] in _CURRENCY_BEFORE:
        return False
    if end < len(text) and (text[end].isalnum() or text[end] == "_"):
        return False
    if _UNITS_AFTER.match(text, end):
        return False
    if run[0] != "+" and (_DATE.fullmatch(run) or _VERSION.fullmatch(run)):
        return False
    chunks = re.split(r"[\s\-–/]+", run.strip("()"))
    if all(_YEAR_CHUNK.fullmatch(c) for c in chunks):
        return False
    return _MAGNITUDE.fullmatch(digits) is None


def _phone_spans(run: str) -> Iterable[tuple[int, int]]:
    # A run may glue a phone number to neighbouring numbers ("call 0612345678 2 times"): try
    # it whole, then without its last or first chunk.
    yield 0, len(run)
    last = run.rfind(" ")
    if last > 0:
        yield 0, last
        first = run.find(" ")
        yield first + 1, len(run)


def find_sensitive(
    text: str,
    extra: Sequence[SensitivePattern | re.Pattern[str]] = (),
    *,
    regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS,
    phone_candidates: int = PHONE_CANDIDATES,
) -> list[Finding]:
    """Private data in `text`, by position: e-mail addresses, phone numbers (any country's
    format), Luhn-valid card numbers, mod-97-valid IBANs and the caller's `extra` patterns.
    Only the first `phone_candidates` runs of digits that may be phone numbers are checked."""
    found: list[Finding] = []
    if "@" in text and _EMAIL_HINT.search(text):
        found.extend(Finding("email", m.start(), m.end()) for m in _EMAIL.finditer(text))
    if _SEVEN_DIGITS.match(text) or _IBAN_START.search(text):
        found.extend(_find_numbers(text, regions, phone_candidates))
    for pattern in extra:
        regex, label = pattern if isinstance(pattern, SensitivePattern) else (pattern, None)
        found.extend(
            Finding("pattern", m.start(), m.end(), label)
            for m in regex.finditer(text)
            if m.end() > m.start()
        )
    if len(found) > 1:
        found.sort(key=lambda f: (f.start, -f.end))
    return found


def _find_numbers(text: str, regions: tuple[str, ...], budget: int) -> list[Finding]:
    """IBANs, then card numbers, then phone numbers in the candidates of the number scan."""
    found: list[Finding] = []
    runs: list[tuple[int, int]] = []
    for match in _NUMBERS.finditer(text):
        start, end = match.span()
        if match.lastgroup != "iban":
            runs.append((start, end))
        elif not (start and text[start - 1].isalnum()):
            iban = _find_iban(text, start, end)
            if iban is not None:
                found.append(iban)
            else:  # not an IBAN: look for numbers inside the candidate instead
                runs.extend(m.span() for m in _NUMBERS.finditer(text, start + 2, end))
    for s, e in runs:
        if e - s < 7:
            continue
        cards = _find_cards(text, s, e) if e - s >= 13 else []
        if cards:
            found.extend(cards)
        elif budget > 0:
            phone, budget = _find_phone(text, s, e, regions, budget)
            if phone is not None:
                found.append(phone)
    return found


def _find_cards(text: str, start: int, end: int) -> list[Finding]:
    found = []
    for card in _CARD.finditer(text, start, end):
        if _luhn(card.group().replace(" ", "").replace("-", "")):
            found.append(Finding("card", card.start(), card.end()))
    return found


def _find_phone(
    text: str, start: int, end: int, regions: tuple[str, ...], budget: int
) -> tuple[Finding | None, int]:
    """A phone number in `text[start:end]` (the whole run, or the run less its first or last
    chunk), and what is left of the `budget` of candidates checked with phonenumbers."""
    run = text[start:end]
    for a, b in _phone_spans(run):
        if _phone_like(text, start + a, start + b):
            budget -= 1
            if _is_phone(run[a:b].strip(), regions):
                return Finding("phone", start + a, start + b), budget
            if budget <= 0:
                break
    return None, budget


def redact(text: str, findings: Iterable[Finding]) -> str:
    """`text` with every finding replaced by "[redacted]" (overlapping findings merge)."""
    parts: list[str] = []
    position = 0
    for start, end in sorted((f.start, f.end) for f in findings):
        if start >= position:
            parts.append(text[position:start])
            parts.append("[redacted]")
            position = end
        elif end > position:  # overlaps the span already redacted: extend it
            position = end
    parts.append(text[position:])
    return "".join(parts)


LABELS = {
    "email": "e-mail address",
    "phone": "phone number",
    "card": "card number",
    "iban": "IBAN",
    "pattern": "private data",
}
MASK = "••"


def _mask_phone(number: str) -> str:
    """`+33 6 12 34 56 78` → `+33 6 •• •• •• 78`: the country or trunk prefix and the last two
    digits stay (enough to recognise one's own number), every other digit is masked."""
    digits = [i for i, ch in enumerate(number) if ch.isdigit()]
    keep_head = 3 if number.lstrip("(").startswith(("+", "00")) else 2
    keep = set(digits[:keep_head] + digits[-2:]) if len(digits) >= 7 else set(digits[-2:])
    out = []
    previous_masked = False
    for i, ch in enumerate(number):
        if ch.isdigit() and i not in keep:
            if not previous_masked:
                out.append(MASK)
            previous_masked = True
            continue
        previous_masked = False
        out.append(ch)
    return "".join(out)


def mask(text: str, findings: Iterable[Finding]) -> str:
    """`text` with its private data masked for public or shared output: phone numbers keep
    their prefix and last two digits (`+33 6 •• •• •• 78`), everything else becomes
    `[<what> removed]` (`[contract number removed]`). Overlapping findings merge."""
    spans: list[list[Any]] = []
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if spans and f.start < spans[-1][1]:
            last = spans[-1]
            if f.end > last[1]:
                last[1], last[2] = f.end, "pattern" if last[2] == "phone" else last[2]
            continue
        spans.append([f.start, f.end, f.kind, f.label])
    parts: list[str] = []
    position = 0
    for start, end, kind, label in spans:
        parts.append(text[position:start])
        if kind == "phone":
            parts.append(_mask_phone(text[start:end]))
        else:
            parts.append(f"[{label or LABELS.get(kind, 'private data')} removed]")
        position = end
    parts.append(text[position:])
    return "".join(parts)


def mask_private(
    text: str, patterns: Sequence[SensitivePattern | re.Pattern[str]] = ()
) -> tuple[str, bool]:
    """`text` masked (see `mask`) and whether anything was masked. Every run of digits that
    may be a phone number is checked, however many the text holds (triage stops at a few)."""
    findings = find_sensitive(text, patterns, phone_candidates=sys.maxsize)
    return (mask(text, findings), True) if findings else (text, False)


# --------------------------------------------------------------------------------------------
# Examples: what the detectors must find, and what they must leave alone
# --------------------------------------------------------------------------------------------


class Example(NamedTuple):
    """A post a user might write, and the private data in it exactly as written."""

    text: str
    private: str


# The plan pattern the "pattern" examples need, labelled as the plan would label it.
EXAMPLE_PLAN_PATTERN = r"CUST-\d{6}"
EXAMPLE_PATTERNS: tuple[SensitivePattern, ...] = (
    SensitivePattern(re.compile(EXAMPLE_PLAN_PATTERN), "contract number"),
)

# Every detector's examples, by Finding.kind: each is found as exactly one finding, the whole
# of `private`, by find_sensitive(text, EXAMPLE_PATTERNS). Tests run them through every
# shared output (a recap, a draft, a transcript) to prove none of it is printed. The numbers
# are the well-known test ones (cards that pass Luhn, IBANs from the registry's examples,
# fictional phone ranges where the country has one).
EXAMPLES: dict[str, tuple[Example, ...]] = {
    "email": (
        Example(
            "Can someone from billing write to me at john.doe+acme@example.co.uk?",
            "john.doe+acme@example.co.uk",
        ),
        Example(
            "My login is marie-claire.dupont+askacme@orange.fr, why can't I sign in?",
            "marie-claire.dupont+askacme@orange.fr",
        ),
        Example(
            "Please reply to j_smith@mail.company.de, why does the app keep logging me out?",
            "j_smith@mail.company.de",
        ),
        Example(
            "Why was my refund sent to sam.lee+orders@gmail.com and not to my card?",
            "sam.lee+orders@gmail.com",
        ),
        Example(
            "Can you move my account from a.kowalski@wp.pl to my new address?",
            "a.kowalski@wp.pl",
        ),
    ),
    "phone": (
        Example("I'm on +33 6 12 34 56 78, call me?", "+33 6 12 34 56 78"),
        Example("Can support call me back on 06 12 34 56 78 tonight?", "06 12 34 56 78"),
        Example("Pouvez-vous me rappeler au 01 42 68 53 00 ?", "01 42 68 53 00"),
        Example("My number is (415) 555-2671, could someone call me?", "(415) 555-2671"),
        Example("Can you ring me on +1 415 555 2671 after 6?", "+1 415 555 2671"),
        Example("Can you call me on 416-555-0199 in Toronto?", "416-555-0199"),
        Example("Could your London team call 020 7946 0958 about my order?", "020 7946 0958"),
        Example("Text me at +44 7911 123456 when my parcel ships?", "+44 7911 123456"),
        Example("Ruft ihr mich unter +49 30 12345678 zurück?", "+49 30 12345678"),
        Example("Rufen Sie mich unter 0151 23456789 an?", "0151 23456789"),
        Example("¿Me podéis llamar al +34 612 34 56 78?", "+34 612 34 56 78"),
        Example("Mi chiamate al +39 312 345 6789 per il rimborso?", "+39 312 345 6789"),
        Example("Bel me terug op 06-12345678?", "06-12345678"),
        Example("Can someone in Zurich reach me on 0041 44 668 18 00?", "0041 44 668 18 00"),
        Example("Can you WhatsApp me on +91 98765 43210?", "+91 98765 43210"),
        Example("Could you call my mobile 0412 345 678 in Sydney?", "0412 345 678"),
        Example("Why has nobody called 090-1234-5678 back yet?", "090-1234-5678"),
        Example("Pode me ligar no +55 11 91234-5678?", "+55 11 91234-5678"),
    ),
    "card": (
        Example("Why was my Visa 4111 1111 1111 1111 charged twice?", "4111 1111 1111 1111"),
        Example("My Mastercard 5555 5555 5555 4444 was declined, why?", "5555 5555 5555 4444"),
        Example("Can you refund the Amex 3782 822463 10005 instead?", "3782 822463 10005"),
        Example("Is card 6011-1111-1111-1117 still on file?", "6011-1111-1111-1117"),
        Example("My JCB 3530 1113 3330 0000 was refused, any idea?", "3530 1113 3330 0000"),
        Example("Why does 4012888888881881 fail at checkout?", "4012888888881881"),
    ),
    "iban": (
        Example(
            "Can you send the refund to FR76 3000 6000 0112 3456 7890 189?",
            "FR76 3000 6000 0112 3456 7890 189",
        ),
        Example(
            "Why was DE89 3704 0044 0532 0130 00 debited twice this month?",
            "DE89 3704 0044 0532 0130 00",
        ),
        Example(
            "My IBAN is GB82 WEST 1234 5698 7654 32, when will the refund arrive?",
            "GB82 WEST 1234 5698 7654 32",
        ),
        Example(
            "¿Podéis devolverlo a ES91 2100 0418 4502 0005 1332?", "ES91 2100 0418 4502 0005 1332"
        ),
        Example(
            "Why hasn't IT60 X054 2811 1010 0000 0123 456 been credited?",
            "IT60 X054 2811 1010 0000 0123 456",
        ),
        Example("Can you pay into NL91ABNA0417164300 instead?", "NL91ABNA0417164300"),
        Example("Is BE68 5390 0754 7034 the right account for the refund?", "BE68 5390 0754 7034"),
        Example(
            "Can you use CH93 0076 2011 6238 5295 7 for the payout?", "CH93 0076 2011 6238 5295 7"
        ),
    ),
    "pattern": (
        Example("My contract is CUST-004211, why did the price go up?", "CUST-004211"),
        Example("Can you check CUST-123456? I was billed twice.", "CUST-123456"),
        Example("Why is contract CUST-987654 still not cancelled?", "CUST-987654"),
    ),
}

# Posts that look like private data and are not: versions, dates, prices, counts, order and
# ticket numbers, an IBAN and a card number whose check digits are wrong, a Mastodon handle.
NEAR_MISSES: tuple[str, ...] = (
    "Will version 10.0.19041.1234 get the fix?",
    "Does v2.10.4 fix the login bug?",
    "Is the 2024-05-12 release still on?",
    "Why did my delivery slip from 12.05.2024 to 19.05.2024?",
    "Does the meeting run 10:30-11:30 or 14:00?",
    "What changed between 2019 and 2024?",
    "Were 2019 2020 2021 your best years?",
    "Is build 20240512 the one with the fix?",
    "Is it really $1 299 000 for the enterprise plan?",
    "Why does the pro plan cost 1 299 000 € a year?",
    "Why is it 1,299,000 USD now?",
    "How did you reach 1 000 000 users so fast?",
    "Why 1000000 views and no reply?",
    "Between 1500000 and 2500000 downloads, right?",
    "My order #12345678 is late, any news?",
    "Why is my order 12345678 still not shipped?",
    "Can you ship order 98765432 by Friday?",
    "Ticket 4521-8876 was closed without an answer, why?",
    "Tracking 1Z999AA10123456784 shows nothing, why?",
    "Why did I get HTTP 404 then 500?",
    "Is FR76 3000 6000 0112 3456 7890 188 a valid IBAN?",
    "Why is DE89 3704 0044 0532 0130 01 refused?",
    "Card 4111 1111 1111 1112 fails, is that why?",
    "Is CUST-12345 a contract number?",
    "Is @alice@mastodon.social your account?",
)

_DIGIT_GROUP = re.compile(r"\d(?:[ \u00a0().\-/]?\d)*")


def leaks(output: str, private: str) -> list[str]:
    """What of `private` (one of the EXAMPLES' values) `output` still shows: the value as
    written or without its separators, an e-mail's local part, and any four digits of the
    value in a row, read across separators. Masking keeps a phone number's prefix and last
    two digits, which are shorter."""
    whole = dict.fromkeys((private, re.sub(r"[\s().\-/]", "", private)))
    found = [piece for piece in whole if piece in output]
    if "@" in private:
        local = private.split("@", 1)[0]
        if local in output:
            found.append(local)
    digits = "".join(filter(str.isdigit, private))
    shown = ["".join(filter(str.isdigit, m.group())) for m in _DIGIT_GROUP.finditer(output)]
    for i in range(len(digits) - 3):
        window = digits[i : i + 4]
        if any(window in group for group in shown):
            found.append(window)
    return found
