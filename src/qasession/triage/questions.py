"""Is a post a question? A question mark outside links, or an interrogative form in English or
French."""

from __future__ import annotations

import re

from qasession.triage.cleaning import strip_entities, word_set

__all__ = ["is_question", "is_question_clean"]

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
_STARTERS = word_set(
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


def is_question_clean(cleaned: str) -> bool:
    """`is_question` of a text already through `strip_entities`."""
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
    return is_question_clean(strip_entities(text))
