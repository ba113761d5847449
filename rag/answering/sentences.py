"""Sentences as units of evidence: splitting, content words, the instruction filter, language detection.

Splitting knows Arabic punctuation; the instruction filter keeps injected orders out of evidence."""

from __future__ import annotations

import re

from rag.normalize import normalize_arabic, tokenize

# Sentence ends: Latin and Arabic full stop/question/exclamation marks and the Arabic semicolon when
# followed by a space or the end (so "3.5" and "window.open" stay whole), and line breaks.
_SENTENCE = re.compile(r"(?:[^\n.!?؟؛]|[.!?؟؛](?![.!?؟؛]*(?:\s|$)))+(?:[.!?؟؛]+|\n|$)")
_ARABIC_LETTER = re.compile(r"[\u0621-\u064a]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
# Frequent function words carry no evidence; they must not make an unrelated sentence look supporting.
STOPWORDS = frozenset(
    tokenize(
        "في من على الى إلى عن مع أن ان إن هذا هذه ذلك تلك التي الذي الذين هو هي هم كان كانت قد لا لم لن "
        "ما ماذا لماذا متى أين اين كيف كم هل أي و او أو ثم بل كل بعض بين عند حتى منذ خلال بعد قبل أيضا "
        "أيضًا كما وفقا the a an of to in on for and or is are was were be by with what who when where why "
        "how which does did do"
    )
)


# A bracket left open at a sentence end holds the end («محمد علي باشا (بالتركية العثمانية: قوللى محمد على
# پاشا؛ وبالألبانية: …) هو مؤسس…»: Wikipedia's glosses carry the Arabic semicolon) when it closes within this
# many characters and no line break; a stray bracket that never closes splits as before.
_BRACKET_REACH = 300
_OPENERS, _CLOSERS = "([", ")]"


def _open_brackets(text: str) -> int:
    return sum(text.count(c) for c in _OPENERS) - sum(text.count(c) for c in _CLOSERS)


def _pieces(text: str) -> list[tuple[int, int]]:
    pieces = []
    for match in _SENTENCE.finditer(text):
        start, end = match.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            pieces.append((start, end))
    return pieces


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text``, whitespace trimmed, empty ones skipped.

    A sentence end inside a bracket that closes soon after does not end the sentence
    (:data:`_BRACKET_REACH`)."""
    pieces = _pieces(text)
    spans = []
    i = 0
    while i < len(pieces):
        first, end = pieces[i]
        j = i
        if _open_brackets(text[first:end]) > 0:
            for k in range(i + 1, len(pieces)):
                start_k, end_k = pieces[k]
                if "\n" in text[pieces[k - 1][1] : start_k] or end_k - first > _BRACKET_REACH:
                    break
                if _open_brackets(text[first:end_k]) <= 0:
                    j = k
                    break
        spans.append((first, pieces[j][1]))
        i = j + 1
    return spans


# Sentences that address the assistant rather than report news: an article may carry them (prompt
# injection). They are kept out of the prompt, never quoted, and never count as support for a claim.
# Matched over normalized text (alef/ya/ta-marbuta unified, lower case).
_INSTRUCTION_LIKE = re.compile(
    "|".join(
        (
            # An order to drop earlier instructions. The qualifier («السابقة», «أعلاه»…) is required, so news
            # such as «اتهمت الهيئة الشركة بتجاهل القواعد التنظيمية» stays evidence.
            r"(?<!\w)(?:تجاهل|اهمل|تخط|تجاوز|انس|انسي|الغ)\s+(?:جميع\s+|كل\s+)?"
            r"(?:التعليمات|الاوامر|القواعد|التوجيهات|الارشادات)\s+(?:السابقه|الاصليه|اعلاه|المعطاه)",
            r"(?<!\w)(?:تجاهل|اهمل|انس|انسي)\s+(?:كل\s+)?ما\s+(?:سبق|قيل|ورد)",
            r"(?<!\w)لا\s+(?:تلتزم|تتبع|تطبق|تنفذ)\s+(?:ب)?(?:التعليمات|الاوامر|القواعد|التوجيهات)\s+"
            r"(?:السابقه|الاصليه|اعلاه)",
            r"ما\s+سبق\s+(?:لاغيا|لاغ|ملغي)",
            r"(?<!\w)تعليماتك\s+(?:الجديده|هي)",
            r"تعليمات\s+(?:جديده|النظام)",
            r"من\s+الان\s+(?:فصاعدا\s+)?انت\s+(?:مساعد|نموذج|روبوت)",
            r"(?:بصفتك|انت الان)\s+(?:مساعد|نموذج|سند)",
            r"(?:اكتب|قل|اجب)\s+(?:فقط|دايما|دائما)",
            r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+|my\s+)?"
            r"(?:previous|prior|above|earlier|preceding|original)\s+"
            r"(?:instructions|prompts?|rules|directions|guidance|messages)",
            r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+)?(?:the\s+|your\s+)?"
            r"(?:instructions|prompts?|directions|guidance)\b",
            r"disregard\s+(?:all\s+|the\s+)?(?:previous|prior|above)",
            r"\bforget\s+(?:everything|all)\s+(?:you|that|above|before)",
            r"\bfrom\s+now\s+on,?\s+you\b",
            r"\b(?:note|message|instructions?)\s+(?:to|for)\s+(?:the\s+)?(?:ai|assistant|model|llm|chatbot)\b",
            r"(?:new|updated)\s+(?:system\s+)?instructions",
            r"system\s+prompt|you\s+are\s+now|maintenance\s+mode|developer\s+mode",
            r"(?:^|\s)(?:system|assistant)\s*:",
            r"<\|im_start\|>|<\|im_end\|>|<\|endoftext\|>",
        )
    )
)
_TEMPLATE_TOKEN = re.compile(r"<\|[^|<>]{1,40}\|>")


def is_instruction_like(sentence: str) -> bool:
    return bool(_INSTRUCTION_LIKE.search(normalize_arabic(sentence)))


def evidence_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` that can serve as evidence: instruction-like sentences left out."""
    return [(a, b) for a, b in split_sentences(text) if not is_instruction_like(text[a:b])]


def content_tokens(text: str) -> set[str]:
    return {token for token in tokenize(text) if token not in STOPWORDS and len(token) > 1}


def detect_language(text: str) -> str:
    """ "ar" when Arabic letters dominate the letters of ``text``, else "en"."""
    arabic = len(_ARABIC_LETTER.findall(text))
    latin = len(_LATIN_LETTER.findall(text))
    return "en" if latin > 2 * arabic else "ar"
