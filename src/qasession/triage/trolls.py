"""Troll signals of a post: the plan's blocked words, profanity, shouting, floods."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from functools import lru_cache

from qasession.triage.cleaning import strip_entities, word_set

__all__ = ["text_signals", "troll_signals"]


# Entries of better_profanity's list that are ordinary words in a Q&A (medicine, tech, food,
# names, identities, mild frustration): flagging them would bury real questions.
_NOT_PROFANE = word_set(
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


def text_signals(text: str, cleaned: str, blocked_words: Collection[str]) -> list[str]:
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
    signals = text_signals(text, strip_entities(text), blocked_words)
    if author_recent_count >= flood_limit:
        signals.append("flood")
    return signals
