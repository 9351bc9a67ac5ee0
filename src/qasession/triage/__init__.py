"""Triage of incoming posts: question detection, private data, troll signals, dedupe, ranking."""

from __future__ import annotations

import heapq
import re
import unicodedata
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import lru_cache
from itertools import chain
from typing import Any, NamedTuple

import phonenumbers
from rapidfuzz import fuzz, process

from qasession.platforms.base import Post

__all__ = [
    "DEFAULT_PHONE_REGIONS",
    "Classification",
    "DuplicateIndex",
    "Finding",
    "QuestionFeatures",
    "SensitivePattern",
    "TextFacts",
    "Weights",
    "classify",
    "compile_patterns",
    "find_sensitive",
    "is_question",
    "mask",
    "mask_private",
    "normalize_question",
    "rank",
    "redact",
    "score",
    "text_facts",
    "troll_signals",
]

# --------------------------------------------------------------------------------------------
# Shared text cleaning
# --------------------------------------------------------------------------------------------

# URLs, @mentions (with a leading "." and Mastodon's @user@instance) and hashtags. They are
# addressing, not content: a "?" in a URL is no question, #AskAcme is no word of the question.
# Each branch starts from one character class, which lets the regex engine skip ahead to the
# next candidate character instead of trying every position (5x faster on typical posts).
_ENTITIES = re.compile(
    r"[hHwW.@#＃](?:"
    r"(?<=[hH])(?:ttps?|TTPS?)://\S+"
    r"|(?<=[wW])(?:ww|WW)\.\S+"
    r"|(?<=\.)@\w+(?:[.@-]\w+)*"
    r"|(?<=@)\w+(?:[.@-]\w+)*"
    r"|(?<=[#＃])\w+)"
)
# Links without a scheme ("example.com/faq?x=1"), looked for only after a cheap test.
_BARE_LINK_HINT = re.compile(r"\.[a-zA-Z]{2,}/")
_BARE_LINK = re.compile(r"\b[\w-]+(?:\.[\w-]+)*\.[a-zA-Z]{2,}/\S*")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


def _strip_entities(text: str) -> str:
    text = _ENTITIES.sub(" ", text)
    if "/" in text and _BARE_LINK_HINT.search(text):
        text = _BARE_LINK.sub(" ", text)
    if "’" in text or "‘" in text or "ʼ" in text or "`" in text:
        text = text.translate(_APOSTROPHES)
    return text


# --------------------------------------------------------------------------------------------
# Questions
# --------------------------------------------------------------------------------------------

_QUESTION_MARKS = re.compile(r"[?？¿؟⸮❓❔⁇⁈⁉‽]")

_AUX = (
    r"(?:is|are|was|were|am|do|does|did|can|could|will|would|should|shall|may|might|must|has"
    r"|have|isn't|aren't|wasn't|weren't|don't|doesn't|didn't|can't|cannot|couldn't|won't"
    r"|wouldn't|shouldn't|haven't|hasn't)"
)
_PRONOUNS = r"(?:i|you|we|they|he|she|it|there|one|u|y'all|ya)"
_DETERMINERS = (
    r"(?:this|that|these|those|anyone|anybody|someone|somebody|everyone|everybody|people|the"
    r"|your|my|our|their|his|her|its|any|all|some|each|every|users|customers|folks)"
)
_EXCLAMATIVE = (
    r"(?:great|cool|nice|awesome|amazing|lovely|wonderful|exciting|fun|good|beautiful|sweet"
    r"|kind|cute|funny|brilliant|fantastic|incredible|neat|interesting|sad|true|wild|crazy)"
)
_FR_VOUS_VERBS = (
    r"(?:pouvez|allez|avez|êtes|etes|savez|pensez|comptez|prévoyez|prevoyez|faites|voulez"
    r"|devez|croyez|trouvez|proposez|offrez|acceptez|recommandez|conseillez|utilisez"
    r"|travaillez|envisagez|pourriez|auriez|seriez|voudriez|sauriez|feriez|pourrions|sommes"
    r"|pouvons|allons|avons|devons|savons|aurons|serons|irons)"
)
_FR_AFTER_COMMENT = (
    r"(?:je|j'|on|vous|tu|il|elle|ils|elles|nous|faire|fait|faites|est|sont|ça|ca|c'est|se|s'"
    r"|puis|peut|peux|pouvez|pouvons|allez|va|vont|obtenir|savoir|trouver|avoir|être|etre"
    r"|changer|modifier|supprimer|activer|désactiver|desactiver|installer|utiliser|contacter"
    r"|créer|creer|ajouter|annuler|payer|réinitialiser|reinitialiser|récupérer|recuperer"
    r"|accéder|acceder|devenir|postuler|participer|configurer|mettre|prendre|télécharger"
    r"|telecharger|joindre|gérer|gerer|résilier|resilier|inscrire|voir|vérifier|verifier"
    r"|fonctionne|marche|le|la|les|l'|un|une|mon|ma|mes|votre|vos|ton|ta|tes|leur|leurs)"
)
_INTERROGATIVE_START = "|".join(
    (
        # English auxiliaries followed by a subject: "can you", "is there", "does it".
        # "do/did" are often imperative ("Do it!") and "have/has" greet ("Have a nice day"),
        # so they take fewer subjects; "may/might/must" only pronouns ("May the force...").
        rf"(?:is|are|was|were|am|can|could|will|would|should|shall|does|isn't|aren't|wasn't"
        rf"|weren't|doesn't|can't|cannot|couldn't|won't|wouldn't|shouldn't)\s+"
        rf"(?:(?:{_PRONOUNS}|{_DETERMINERS}|a|an)\b|(?-i:[A-Z]))",
        rf"(?:do|did|don't|didn't)\s+(?:{_PRONOUNS}(?<!it)|anyone|anybody|someone|somebody"
        rf"|people|the|your|my|our|their|any|users|customers|folks)\b",
        rf"(?:has|have|haven't|hasn't)\s+(?:{_PRONOUNS}|{_DETERMINERS})\b",
        rf"(?:may|might|must)\s+{_PRONOUNS}\b",
        # Wh-words, without the exclamatives ("What a session!", "How cool is that").
        r"why\b",
        r"(?:what|how|when|where|who|which)(?:'s|'re|'ll|'d)\b",
        r"(?:whats|hows|wheres|whos|whatre)\b",
        rf"how\s+(?:{_AUX}|to|come|about|much|many|long|often|soon|far|old)\b",
        rf"how\s+(?!{_EXCLAMATIVE}\b)\w+\s+{_AUX}\b",
        rf"what\s+(?:{_AUX}|about|if|else|kind|sort|type|time|day|date|happens|happened"
        rf"|exactly|would)\b",
        rf"what\s+(?!a\b|an\b)\w+\s+{_AUX}\b",
        rf"(?:when|where|who|whom|which|whose)\s+(?:{_AUX}|else|exactly)\b",
        rf"(?:which|whose)\s+\w+\s+{_AUX}\b",
        # Openers that ask without an interrogative form.
        r"any\s+(?:plans?|news|updates?|chance|idea|ideas|tips?|way|word|eta|timeline|info"
        r"|information|thoughts?|advice|recommendations?|suggestions?|hints?|progress"
        r"|insights?|estimate|date|reason|roadmap|guidance|feedback)\b",
        r"(?:anyone|anybody|someone|somebody)\s+(?:know|knows|else|tried|have|has|using|seen"
        r"|got|able|experienced)\b",
        r"(?:i\s+)?(?:wonder|wondering|was\s+wondering)\b",
        r"curious\s+(?:about|if|whether|how|what|why|when|to)\b",
        r"(?:i'd\s+|i\s+would\s+|would\s+|i\s+)?(?:love|like|want|need)\s+to\s+know\b",
        r"please\s+(?:explain|tell|clarify|advise)\b",
        r"thoughts\s+on\b",
        # French.
        r"(?:pourquoi|quand|combien|où)\b",
        r"ou\s+(?:est|sont|trouver|puis|peut|peux)\b",
        r"quel(?:le)?s?\b",
        r"est[- ]ce\s+qu",
        r"qu'est[- ]ce\b",
        r"qui\s+(?:est|sont|va|vont|peut|a|fait|sera|seront|décide|decide)\b",
        r"que\s+(?:faire|faut|se\s+passe|signifie|veut|pensez)\b",
        rf"comment\s+{_FR_AFTER_COMMENT}\b",
        r"c'est\s+(?:quoi|qui|où|combien|quand)\b",
        # Inversions: "puis-je", "est-il", "peut-on" ("-on" only after t: "add-on" is English).
        r"\w+-(?:t-)?(?:je|tu|il|elle|ils|elles)\b",
        r"\w*t-on\b",
        rf"{_FR_VOUS_VERBS}-(?:vous|nous)\b",
        r"y\s+a[- ]t[- ]il\b",
    )
)
_INTERROGATIVE = re.compile(rf"(?:{_INTERROGATIVE_START})", re.IGNORECASE)
# The words an interrogative form above can start with. The long case-insensitive
# alternation costs microseconds per try, so it only runs where a sentence starts with one.
_STARTERS = _word_set(
    """
    is are was were am can could will would should shall does isn't aren't wasn't weren't
    doesn't can't cannot couldn't won't wouldn't shouldn't do did don't didn't has have
    haven't hasn't may might must why what how when where who whom which whose what's how's
    when's where's who's which's what're who're what'll who'd whats hows wheres whos whatre
    any anyone anybody someone somebody i i'd wonder wondering was curious would love like
    want need please thoughts pourquoi quand combien où ou quel quelle quels quelles est qu'est
    qui que comment c'est y pouvez allez avez êtes etes savez pensez comptez prévoyez prevoyez
    faites voulez devez croyez trouvez proposez offrez acceptez recommandez conseillez
    utilisez travaillez envisagez pourriez auriez seriez voudriez sauriez feriez pourrions
    sommes pouvons allons avons devons savons aurons serons irons
    """
)
# A sentence starts at the beginning, after . ! ; : , … dashes or brackets, then any
# non-word run (spaces, emoji, quotes): "Hi Acme! how do I..." asks in its second sentence.
# The pattern for later sentences starts with one character class, so the engine skips
# from one punctuation mark to the next.
_FIRST_WORD = re.compile(r"[\W_]*(\w[\w'-]*)")
_LATER_FIRST_WORDS = re.compile(r"[.!;:,\n…—–(\"“”«»¡-](?:(?<!-)|(?<=\s-)(?=\s))[\W_]*(\w[\w'-]*)")
# "va-t-il", "y a-t-il" anywhere in a sentence.
_EUPHONIC_T = re.compile(r"\w-t-(?:il|elle|on|ils|elles)\b", re.IGNORECASE)


def _asks_at(cleaned: str, match: re.Match[str] | None) -> bool:
    if match is None:
        return False
    word = match.group(1).lower()
    if word in _STARTERS or "-" in word:
        return _INTERROGATIVE.match(cleaned, match.start(1)) is not None
    return False


def _is_question_clean(cleaned: str) -> bool:
    if _QUESTION_MARKS.search(cleaned) is not None:
        return True
    if _asks_at(cleaned, _FIRST_WORD.match(cleaned)):
        return True
    if any(_asks_at(cleaned, m) for m in _LATER_FIRST_WORDS.finditer(cleaned)):
        return True
    return ("-t-" in cleaned or "-T-" in cleaned) and _EUPHONIC_T.search(cleaned) is not None


def is_question(text: str) -> bool:
    """Whether `text` asks something: a question mark outside links, or an interrogative
    form in English or French ("how do I", "any plans to", "est-ce que", "peut-on")."""
    return _is_question_clean(_strip_entities(text))


# --------------------------------------------------------------------------------------------
# Private data
# --------------------------------------------------------------------------------------------


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
_MAX_PHONE_CANDIDATES = 4  # a post full of numbers is no reason to spend milliseconds on it


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
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None:
        return None, frozenset()
    return meta.national_prefix, frozenset(meta.general_desc.possible_length or ())


@lru_cache(maxsize=4096)
def _is_phone(candidate: str, regions: tuple[str, ...]) -> bool:
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
) -> list[Finding]:
    """Private data in `text`, by position: e-mail addresses, phone numbers (any country's
    format), Luhn-valid card numbers, mod-97-valid IBANs and the caller's `extra` patterns."""
    found: list[Finding] = []
    if "@" in text and _EMAIL_HINT.search(text):
        found.extend(Finding("email", m.start(), m.end()) for m in _EMAIL.finditer(text))
    phone_budget = _MAX_PHONE_CANDIDATES
    worth_scanning = _SEVEN_DIGITS.match(text) or _IBAN_START.search(text)
    numbers = _NUMBERS.finditer(text) if worth_scanning else ()
    for match in numbers:
        start, end = match.span()
        if match.lastgroup == "iban":
            if start and text[start - 1].isalnum():
                continue
            iban = _find_iban(text, start, end)
            if iban is not None:
                found.append(iban)
                continue
            # Not an IBAN: look for numbers inside the candidate instead.
            inner = [(m.start(), m.end()) for m in _NUMBERS.finditer(text, start + 2, end)]
        else:
            inner = [(start, end)]
        for s, e in inner:
            if e - s < 7:
                continue
            card_found = False
            if e - s >= 13:
                for card in _CARD.finditer(text, s, e):
                    digits = card.group().replace(" ", "").replace("-", "")
                    if _luhn(digits):
                        found.append(Finding("card", card.start(), card.end()))
                        card_found = True
            if card_found or phone_budget <= 0:
                continue
            run = text[s:e]
            for a, b in _phone_spans(run):
                if _phone_like(text, s + a, s + b):
                    phone_budget -= 1
                    if _is_phone(run[a:b].strip(), regions):
                        found.append(Finding("phone", s + a, s + b))
                        break
                    if phone_budget <= 0:
                        break
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
    """`text` masked (see `mask`) and whether anything was masked."""
    findings = find_sensitive(text, patterns)
    return (mask(text, findings), True) if findings else (text, False)


# --------------------------------------------------------------------------------------------
# Troll signals
# --------------------------------------------------------------------------------------------

# Entries of better_profanity's list that are ordinary words in a Q&A (medicine, tech, food,
# names, identities, mild frustration): flagging them would bury real questions.
_NOT_PROFANE = _word_set(
    """
    god hell kill murder organ pot strip stroke screw screwed screwing gay gays gai gae
    lesbians queer queers transsexual homo sex sexual lmao lmfao omg wtf damn crap fat drunk
    stoned pawn hemp hiv revue maxi seaman seamen sandbar foobar fubar virgin weed slave slope
    sniper naked nude dummy stupid ugly massa paddy rum vodka womb oral orally ovary ovum
    ovums uterus tampon urine urinal herpes herp menses menstruate menstruation pee potty
    poop fart breasts erect erection enlargement facial fingering flange heroin meth opium
    opiate pcp peyote valium viagra crotch rectal rectum rectus penile pubic pubis testes
    testicle testis vagina vulva labia penis nipple nipples semen sperm hymen glans gonad
    gonads anus loin loins lust lusting lusty racy steamy tawdry trashy tramp thug jerk
    weirdo nimrod ninny doofus dopey leper prude prig sissy lech willy willies woody wang
    dong knob nad nads hump spunk snatch snuff souse soused wad wedgie whiz vomit vulgar
    weiner xx yury len asanchez arian hoar hoare homey hooch hootch hookah hooker mams muff
    pasty pastie playboy pms pollock prostitute puss quicky reich rump sadism sadist
    masochist perversion penetrate penetration scantily seduce spick suck sucked sucking teat
    teste testee tinkle tit titi toots tush undies unwed uzi napalm vixen cowgirl cowgirls
    negro niggle nappy punky guido shag thrust throating bimbo bondage busty junkie junky
    """
)
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s", "!": "i", "+": "t", "|": "l"})  # fmt: skip
_LEET_JOINERS = str.maketrans("", "", "-_.*'")
_PUNCTUATION = ".,!?;:\"'()[]{}<>«»“”‘’…#*"
_TRIPLE = re.compile(r"(.)\1\1")
_REPEATS = re.compile(r"(\w)\1{2,}")


@lru_cache(maxsize=1)
def _profanity() -> tuple[frozenset[str], dict[str, tuple[tuple[str, ...], ...]]]:
    """better_profanity's word list, read once on first use (its own censor loop is slow)."""
    from better_profanity import utils

    single: set[str] = set()
    multi: dict[str, list[tuple[str, ...]]] = {}
    for raw in utils.read_wordlist(utils.get_complete_path_of_file("profanity_wordlist.txt")):
        word = raw.strip().lower()
        if not word or word in _NOT_PROFANE:
            continue
        if " " in word:
            first, *rest = word.split()
            multi.setdefault(first, []).append(tuple(rest))
        else:
            single.add(word)
    return frozenset(single), {k: tuple(v) for k, v in multi.items()}


def _tokens(lowered: str) -> tuple[list[str], set[str]]:
    """The words of `lowered` in order, and the set of them plus their leetspeak-, repeat-
    and hyphen-normalised forms ("sh!t", "f.u.c.k", "fuuuck", "ass-hat")."""
    words = [raw.strip(_PUNCTUATION) for raw in lowered.split()]
    if "" in words:
        words = [w for w in words if w]
    variants = set(words)
    joined = "".join(words)
    if not joined.isalpha():  # most posts: plain words only, nothing to normalise
        for word in words:
            if word.isalpha() or word.isdigit():
                continue
            if "-" in word:
                variants.update(word.split("-"))
            if word.isascii():  # leetspeak is ASCII; emoji and the like are left alone
                variants.add(word.translate(_LEET).translate(_LEET_JOINERS))
                variants.add(word.translate(_LEET_JOINERS))
    if _TRIPLE.search(joined):
        for word in list(variants):
            if _TRIPLE.search(word):
                variants.add(_REPEATS.sub(r"\1", word))
                variants.add(_REPEATS.sub(r"\1\1", word))
    return words, variants


@lru_cache(maxsize=64)
def _blocked_index(blocked: frozenset[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    words: set[str] = set()
    phrases: list[str] = []
    for entry in blocked:
        entry = " ".join(entry.lower().split())
        if not entry:
            continue
        if re.fullmatch(r"\w+", entry):
            words.add(entry)
        else:
            phrases.append(entry)
    return frozenset(words), tuple(phrases)


_UPPER_ASCII = bytes(range(ord("A"), ord("Z") + 1))
_LOWER_ASCII = bytes(range(ord("a"), ord("z") + 1))


def _is_shouting(cleaned: str) -> bool:
    # bytes.translate deletes in C, ten times faster than testing characters one by one; it
    # counts ASCII letters only, which decides for Latin-script posts.
    data = cleaned.encode("utf-8", "ignore")
    upper = len(data) - len(data.translate(None, _UPPER_ASCII))
    lower = len(data) - len(data.translate(None, _LOWER_ASCII))
    if upper + lower < 12 and not cleaned.isascii():
        upper = sum(map(str.isupper, cleaned))
        lower = sum(map(str.islower, cleaned))
    return upper + lower >= 12 and upper >= 0.75 * (upper + lower)


def _troll_signals(text: str, cleaned: str, blocked_words: Collection[str]) -> list[str]:
    """The signals `text` itself gives (everything but "flood", which depends on its author)."""
    signals: list[str] = []
    lowered = cleaned.lower()
    words, variants = _tokens(lowered)
    if blocked_words:
        key = blocked_words if isinstance(blocked_words, frozenset) else frozenset(blocked_words)
        blocked, phrases = _blocked_index(key)
        if not blocked.isdisjoint(variants):
            signals.append("blocked_word")
        elif phrases:
            # Phrases and tags ("#boycottacme") are looked for in the text as written too.
            raw = text.lower()
            if any(p in lowered or p in raw for p in phrases):
                signals.append("blocked_word")
    single, multi = _profanity()
    if not single.isdisjoint(variants) or _has_phrase(words, multi):
        signals.append("profanity")
    if _is_shouting(cleaned):
        signals.append("shouting")
    return signals


def _has_phrase(words: list[str], multi: Mapping[str, tuple[tuple[str, ...], ...]]) -> bool:
    if multi.keys().isdisjoint(words):
        return False
    for i, word in enumerate(words):
        tails = multi.get(word)
        if tails is not None:
            for tail in tails:
                if tuple(words[i + 1 : i + 1 + len(tail)]) == tail:
                    return True
    return False


def troll_signals(
    text: str,
    author_recent_count: int,
    blocked_words: Collection[str],
    flood_limit: int = 5,
) -> list[str]:
    """Why `text` may come from a troll: "blocked_word" (the plan's list; pass a frozenset to
    reuse its index), "profanity", "shouting" (mostly capitals over 12+ letters), "flood"
    (the author posted `flood_limit` or more times in the caller's window)."""
    signals = _troll_signals(text, _strip_entities(text), blocked_words)
    if author_recent_count >= flood_limit:
        signals.append("flood")
    return signals


# --------------------------------------------------------------------------------------------
# Near-duplicates
# --------------------------------------------------------------------------------------------

_FILLERS = _word_set(
    """
    please pls plz hi hey hello hiya thanks thank thx ty so just really actually um uh quick
    question q folks guys team all everyone lol btw also basically kindly hmm ok okay well
    dear sir madam svp merci bonjour salut coucou stp
    """
)
# Words too common to find candidates with (they are kept in the compared text).
_STOPWORDS = _FILLERS | _word_set(
    """
    a an the i you we they he she it my your our their is are was were be am do does did can
    could will would should shall may might must has have had to of in on for at by with
    from about and or but if how what when where why who which whose this that these those
    there any me us them its his her not no le la les un une de des du et ou je tu il elle on
    nous vous ils elles est sont que qui quoi pour par avec dans sur ce cette mon ma mes
    """
)
_NEGATIONS = _word_set("not no never nothing nobody none cannot without pas jamais rien")
_WORDS = re.compile(r"[^\W_]+")
_COMBINING = re.compile(r"[\u0300-\u036f]")


def _question_tokens(cleaned: str) -> list[str]:
    """The compared words of a text already through `_strip_entities`."""
    cleaned = cleaned.lower().replace("n't", " not")
    if not cleaned.isascii():
        cleaned = _COMBINING.sub("", unicodedata.normalize("NFKD", cleaned))
    return [w for w in _WORDS.findall(cleaned) if w not in _FILLERS]


def normalize_question(text: str) -> str:
    """`text` as DuplicateIndex compares it: lower case, no accents, punctuation, links,
    mentions, hashtags, emoji or filler words."""
    return " ".join(_question_tokens(_strip_entities(text)))


class DuplicateIndex:
    """Finds near-identical questions without comparing each with all others.

    An exact dictionary catches questions equal after `normalize_question`. Otherwise the
    candidates are the canonical questions with the same guard (the same numbers and
    negations: "version 2" never merges with "version 3", so those are not even compared)
    that share one of the new question's `query_words` rarest words (an inverted index, per
    guard, over each question's `index_words` rarest words, each posting read at most
    `posting_cap` deep, most recent first); the most similar candidate is merged into when its
    rapidfuzz ratio of token-sorted texts is >= `threshold`. The cost of add() is bounded by
    these caps, not by the number of questions."""

    def __init__(
        self,
        threshold: float = 90.0,
        *,
        index_words: int = 4,
        query_words: int = 3,
        posting_cap: int = 32,
    ) -> None:
        self.threshold = threshold
        self.index_words = index_words
        self.query_words = query_words
        self.posting_cap = posting_cap
        self._exact: dict[str, int] = {}
        self._ids: list[str] = []
        self._sorted: list[str] = []  # token-sorted normalised text, what is compared
        self._postings: dict[_Guard, dict[str, list[int]]] = {}
        self._df: dict[str, int] = {}
        self._position: dict[str, int] = {}
        self._duplicates: dict[str, str] = {}

    def __len__(self) -> int:
        """The number of canonical questions."""
        return len(self._ids)

    def __contains__(self, qid: object) -> bool:
        return qid in self._position or qid in self._duplicates

    def canonical_of(self, qid: str) -> str | None:
        """The canonical question `qid` was merged into, or None."""
        return self._duplicates.get(qid)

    def add(self, qid: str, text: str, *, words: Sequence[str] | None = None) -> str | None:
        """The id of the canonical question `text` duplicates (then `qid` is not indexed), or
        None after indexing `qid` as a new canonical question. An empty question (only tags,
        links or emoji) is neither indexed nor merged; adding an id again changes nothing.
        `words` are `text_facts(text).words` when the caller has them already."""
        if qid in self._position:
            return None
        if qid in self._duplicates:
            return self._duplicates[qid]
        tokens = _question_tokens(_strip_entities(text)) if words is None else words
        if not tokens:
            return None
        key = " ".join(tokens)
        hit = self._exact.get(key)
        if hit is not None:
            return self._merge(qid, hit)
        df = self._df
        # Rarest first; longer words break ties, as they say more.
        content = [
            t for _, _, t in sorted((df.get(t, 0), -len(t), t) for t in set(tokens) - _STOPWORDS)
        ]
        sorted_key = " ".join(sorted(tokens))
        guard = _guard(tokens)
        postings = self._postings.get(guard)
        if postings is None:
            postings = self._postings[guard] = {}
        elif content:
            hit = self._similar(sorted_key, postings, content)
            if hit is not None:
                return self._merge(qid, hit)
        position = len(self._ids)
        self._ids.append(qid)
        self._sorted.append(sorted_key)
        self._position[qid] = position
        self._exact[key] = position
        for word in content:
            df[word] = df.get(word, 0) + 1
        for word in content[: self.index_words]:
            posting = postings.get(word)
            if posting is None:
                postings[word] = [position]
            else:
                posting.append(position)
        return None

    def _merge(self, qid: str, position: int) -> str:
        canonical = self._ids[position]
        self._duplicates[qid] = canonical
        return canonical

    def _similar(
        self, sorted_key: str, postings: dict[str, list[int]], content: list[str]
    ) -> int | None:
        cap = self.posting_cap
        # The rarest words that index something; a typo makes a word new, not a miss.
        lists: list[list[int]] = []
        for word in content:
            posting = postings.get(word)
            if posting:
                lists.append(posting[-cap:])
                if len(lists) == self.query_words:
                    break
        if not lists:
            return None
        positions = list(dict.fromkeys(chain.from_iterable(lists))) if len(lists) > 1 else lists[0]
        texts = self._sorted
        # One call into rapidfuzz scores all candidates in C (the ratio of token-sorted
        # texts is token_sort_ratio); every candidate already has the same guard.
        best = process.extractOne(
            sorted_key,
            [texts[p] for p in positions],
            scorer=fuzz.ratio,
            score_cutoff=self.threshold,
        )
        return None if best is None else positions[best[2]]


_Guard = tuple[frozenset[str], frozenset[str]]
_NO_GUARD: _Guard = (frozenset(), frozenset())


def _guard(tokens: Sequence[str]) -> _Guard:
    """Different numbers ("version 2" / "version 3") or a negation make a different
    question however similar the letters are."""
    numbers = list(filter(str.isdigit, tokens))
    negations = _NEGATIONS.intersection(tokens)
    if not numbers and not negations:
        return _NO_GUARD
    return frozenset(numbers), negations


# --------------------------------------------------------------------------------------------
# Ranking
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each feature adds to a question's score (the plan's `ranking:` section)."""

    likes: float = 1.0
    reposts: float = 2.0
    duplicates: float = 3.0
    first_time: float = 1.0
    age_per_minute: float = -0.05
    pinned: float = 1000.0
    sensitive: float = 0.0
    troll: float = -50.0

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> Weights:
        """Weights from the plan's `ranking:` mapping (where `age` means `age_per_minute`);
        unknown keys or non-numbers raise ValueError naming them, missing keys keep their
        defaults."""
        if not mapping:
            return cls()
        if "age" in mapping:
            if "age_per_minute" in mapping:
                raise ValueError("ranking: give either 'age' or 'age_per_minute', not both")
            mapping = {("age_per_minute" if k == "age" else k): v for k, v in mapping.items()}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise ValueError(
                f"unknown ranking weight(s): {', '.join(map(str, unknown))} "
                f"(known: {', '.join(sorted(known))})"
            )
        values: dict[str, float] = {}
        for name, value in mapping.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"ranking weight {name!r} must be a number, not {value!r}")
            values[name] = float(value)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class QuestionFeatures:
    """What ranking knows of a queued question."""

    id: str
    likes: int
    reposts: int
    duplicates: int
    first_time: bool
    created_at: datetime
    pinned: bool = False
    flags: frozenset[str] = frozenset()
    # created_at as a POSIX timestamp, computed once: ranking reads it for every question.
    created_ts: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "created_ts", self.created_at.timestamp())


def score(
    q: QuestionFeatures, weights: Weights, now: datetime, session_start: datetime | None = None
) -> float:
    """The question's score: engagement, duplicates, a first-time bonus, pinning and flags,
    minus a slow decay with age. Age counts from the session start for questions asked
    ahead, so pre-collected questions are not buried."""
    start_ts = session_start.timestamp() if session_start is not None else float("-inf")
    return _score(q, weights, now.timestamp(), start_ts)


def _score(q: QuestionFeatures, w: Weights, now_ts: float, start_ts: float) -> float:
    # The same arithmetic, in the same order, as rank(): both give bit-identical scores.
    age = now_ts - max(q.created_ts, start_ts)
    value = w.likes * q.likes + w.reposts * q.reposts + w.duplicates * q.duplicates
    if age > 0:
        value += w.age_per_minute / 60.0 * age
    if q.first_time:
        value += w.first_time
    if q.pinned:
        value += w.pinned
    flags = q.flags
    if flags:
        if "sensitive" in flags:
            value += w.sensitive
        if "troll" in flags:
            value += w.troll
    return value


def rank(
    questions: Iterable[QuestionFeatures],
    weights: Weights,
    now: datetime,
    limit: int | None = None,
    *,
    session_start: datetime | None = None,
) -> list[tuple[float, QuestionFeatures]]:
    """Questions with their scores, best first; ties go to the earlier question, then to the
    smaller id. With `limit`, only the top `limit` (a heap, not a full sort)."""
    now_ts = now.timestamp()
    start_ts = session_start.timestamp() if session_start is not None else float("-inf")
    w_likes, w_reposts, w_dups = weights.likes, weights.reposts, weights.duplicates
    w_age = weights.age_per_minute / 60.0
    w_first, w_pinned, w_sensitive, w_troll = (
        weights.first_time,
        weights.pinned,
        weights.sensitive,
        weights.troll,
    )
    # The score is inlined (same arithmetic as _score) because this loop runs over the whole
    # queue on every refresh; a function call per question would double its cost.
    keyed: list[tuple[float, float, str, int, QuestionFeatures]] = []
    append = keyed.append
    for i, q in enumerate(questions):
        created = q.created_ts
        age = now_ts - (created if created > start_ts else start_ts)
        value = w_likes * q.likes + w_reposts * q.reposts + w_dups * q.duplicates
        if age > 0:
            value += w_age * age
        if q.first_time:
            value += w_first
        if q.pinned:
            value += w_pinned
        flags = q.flags
        if flags:
            if "sensitive" in flags:
                value += w_sensitive
            if "troll" in flags:
                value += w_troll
        append((-value, created, q.id, i, q))
    if limit is not None:
        best = heapq.nsmallest(limit, keyed) if limit > 0 else []
    else:
        keyed.sort()
        best = keyed
    return [(-item[0], item[4]) for item in best]


# --------------------------------------------------------------------------------------------
# One call per incoming post
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Classification:
    """What triage makes of one incoming post. `flags` ⊆ {sensitive, troll, ahead};
    `duplicate` is the caller's, from DuplicateIndex. `reason` says why a post is ignored
    ("host", "repost") or why it is flagged troll ("troll: profanity, flood")."""

    is_question: bool
    flags: frozenset[str]
    findings: list[Finding]
    ignore: bool
    reason: str | None
    signals: tuple[str, ...] = ()  # the troll signals behind the "troll" flag


def _handle_key(handle: str) -> str:
    return handle.lstrip("@").casefold()


_NO_FLAGS: frozenset[str] = frozenset()


class TextFacts(NamedTuple):
    """What triage reads from a post's text alone, the same for every post with that text
    (so a caller may keep them for texts that come again: copied questions, floods)."""

    cleaned: str  # without links, mentions and tags
    is_question: bool
    findings: tuple[Finding, ...]
    signals: tuple[str, ...]  # troll signals of the text: blocked_word, profanity, shouting
    words: tuple[str, ...]  # what DuplicateIndex compares (questions only; else empty)
    flags: frozenset[str]  # "sensitive" and "troll" as far as the text says

    def post_flags(self, *, flood: bool, ahead: bool) -> frozenset[str]:
        """The flags of a post with this text: plus "troll" when its author floods, plus
        "ahead" when it came before the start."""
        if not flood and not ahead:
            return self.flags
        extra = {"troll"} if flood else set()
        if ahead:
            extra.add("ahead")
        return self.flags | extra


def text_facts(
    text: str,
    *,
    extra_patterns: Sequence[SensitivePattern | re.Pattern[str]] = (),
    blocked_words: Collection[str] = frozenset(),
    phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS,
) -> TextFacts:
    """The text half of `classify`."""
    cleaned = _strip_entities(text)
    asks = _is_question_clean(cleaned)
    findings = tuple(find_sensitive(text, extra_patterns, regions=phone_regions))
    signals = tuple(_troll_signals(text, cleaned, blocked_words))
    if findings or signals:
        flags = frozenset(("sensitive",) * bool(findings) + ("troll",) * bool(signals))
    else:
        flags = _NO_FLAGS
    return TextFacts(
        cleaned,
        asks,
        findings,
        signals,
        tuple(_question_tokens(cleaned)) if asks else (),
        flags,
    )


def classify(
    post: Post,
    *,
    host: str | None,
    start: datetime,
    extra_patterns: Sequence[SensitivePattern | re.Pattern[str]] = (),
    blocked_words: Collection[str] = frozenset(),
    author_recent_count: int = 0,
    flood_limit: int = 5,
    phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS,
    facts: TextFacts | None = None,
) -> Classification:
    """Triage of one post: whether it asks, its flags and private-data findings, and whether
    the loop should ignore it (the host's own posts; plain reposts, which the caller counts
    as engagement). `facts` are `text_facts(post.text, ...)` when the caller has them."""
    if host is not None and _handle_key(post.author) == _handle_key(host):
        return Classification(False, _NO_FLAGS, [], True, "host")
    if post.kind == "repost":
        return Classification(False, _NO_FLAGS, [], True, "repost")
    if facts is None:
        facts = text_facts(
            post.text,
            extra_patterns=extra_patterns,
            blocked_words=blocked_words,
            phone_regions=phone_regions,
        )
    flood = author_recent_count >= flood_limit
    signals = (*facts.signals, "flood") if flood else facts.signals
    return Classification(
        facts.is_question,
        facts.post_flags(flood=flood, ahead=post.created_at < start),
        list(facts.findings),
        False,
        f"troll: {', '.join(signals)}" if signals else None,
        signals,
    )
