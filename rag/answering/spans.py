"""Verbatim word spans of one sentence: the grammar that admits only them, and their offsets.

A llama.cpp grammar whose only outputs are verbatim word spans of one sentence, and the mapping of what
the model wrote back to offsets in that sentence.

A small model asked to "quote the answer" paraphrases, restates the question or runs on; under this grammar
it can only copy a contiguous run of at most ``max_words`` words (the last one without its trailing
punctuation), so whatever it writes is a verbatim quote.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from rag.normalize import tokenize

_WORD = re.compile(r"\S+")
# Punctuation a span should not end with (Arabic comma/semicolon/question mark included) and quotes.
_TRAILING = "،,.:;؛!?؟»«\"'()[]-–—"


@dataclass(frozen=True)
class Word:
    start: int
    end: int  # end of the word as written
    core_end: int  # end without trailing punctuation (equal to ``start`` for a word that is all punctuation)


def words_of(sentence: str) -> list[Word]:
    """The words of ``sentence``; a bare punctuation mark (a dash, a lone quote) joins the word before it."""
    found: list[Word] = []
    for match in _WORD.finditer(sentence):
        core = match.group().rstrip(_TRAILING)
        if not core and found:
            previous = found[-1]
            found[-1] = Word(previous.start, match.end(), previous.core_end)
        elif core:
            found.append(Word(match.start(), match.end(), match.start() + len(core)))
    return found


def _literal(text: str) -> str:
    # GBNF string literals use JSON-style escapes.
    return json.dumps(text, ensure_ascii=False)


def span_grammar(sentence: str, max_words: int = 10, wanted: Sequence[bool] | None = None) -> str:
    """A GBNF grammar: exactly one span of 1..``max_words`` consecutive words of ``sentence``.

    ``wanted`` (one flag per word of :func:`words_of`): the span must hold at least one wanted word (the
    short answer must say something the question does not); ignored when no span could.

    Rule ``w{k}r{r}s{s}`` produces a span that starts at word k with at most r words, ``s`` = 1 when a
    wanted word came before it: either word k alone (its core, no trailing punctuation; only once a wanted
    word is in) or word k as written, a space, and a span starting at k+1 with r-1 words.
    """
    words = words_of(sentence)
    if not words:
        raise ValueError("the sentence has no words to quote")
    if wanted is None or not any(wanted):
        wanted = [True] * len(words)
    if len(wanted) != len(words):
        raise ValueError(f"wanted has {len(wanted)} flags for {len(words)} words")
    bodies: dict[str, list[str]] = {}
    # From the last word back, so a rule is written only if it can produce something (llama.cpp rejects a
    # grammar that refers to an undefined rule).
    for k in range(len(words) - 1, -1, -1):
        word = words[k]
        full, core = sentence[word.start : word.end], sentence[word.start : word.core_end]
        for remaining in range(1, max_words + 1):
            for seen in (0, 1):
                has = int(seen or wanted[k])
                options = [_literal(core)] if has else []
                following = f"w{k + 1}r{remaining - 1}s{has}"
                if remaining > 1 and following in bodies:
                    options.append(f"{_literal(full + ' ')} {following}")
                if options:
                    bodies[f"w{k}r{remaining}s{seen}"] = options
    starts = [f"w{k}r{max_words}s0" for k in range(len(words)) if f"w{k}r{max_words}s0" in bodies]
    reachable, pending = set(starts), list(starts)
    while pending:
        for option in bodies[pending.pop()]:
            following = option.rsplit(" ", 1)[-1]
            if following in bodies and following not in reachable:
                reachable.add(following)
                pending.append(following)
    rules = [f"{name} ::= " + " | ".join(bodies[name]) for name in reversed(bodies) if name in reachable]
    return f"root ::= {' | '.join(starts)}\n" + "\n".join(rules)


def locate_span(sentence: str, produced: str) -> tuple[int, int] | None:
    """Offsets in ``sentence`` of the span the model wrote under :func:`span_grammar`, or None when
    ``produced`` is not such a span (then it must not be shown as a quote)."""
    produced = produced.strip()
    if not produced:
        return None
    for word in words_of(sentence):
        if sentence.startswith(produced, word.start):
            end = word.start + len(produced)
            # The span must end at a word boundary: the end of a word's core or of the word as written.
            if any(end in (w.core_end, w.end) for w in words_of(sentence)):
                return word.start, end
    return None


def closest_span(sentence: str, written: str, max_words: int = 10) -> tuple[int, int] | None:
    """Offsets of the span of at most ``max_words`` words of ``sentence`` whose words are closest (token
    F1 over normalized, lightly stemmed tokens) to what a reader wrote freely; None when none reaches F1
    0.5 (the reader wrote something the sentence does not say)."""
    target = Counter(tokenize(written))
    if not target:
        return None
    words = words_of(sentence)
    tokens = [tokenize(sentence[w.start : w.core_end]) for w in words]
    best, best_f1 = None, 0.5
    for i in range(len(words)):
        found: Counter[str] = Counter()
        for j in range(i, min(len(words), i + max_words)):
            found.update(tokens[j])
            common = sum((found & target).values())
            if not common:
                continue
            f1 = 2 * common / (sum(found.values()) + sum(target.values()))
            if f1 > best_f1:
                best, best_f1 = (words[i].start, words[j].core_end), f1
    return best


# Opening marks and their closers: a short answer shows a mark only with its partner («"ديب سيك"», not
# «"ديب سيك» or «(118»). The ASCII double quote is its own partner; the apostrophe is left alone (English
# «companies'», «DeepSeek's»).
_PAIRS = {"(": ")", "[": "]", "«": "»", "“": "”", '"': '"'}
_CLOSERS = {closer: opener for opener, closer in _PAIRS.items()}


def _unclosed(text: str) -> list[str]:
    """The closers ``text`` lacks: one per opening mark without its partner after it."""
    missing = []
    for opener, closer in _PAIRS.items():
        if opener == closer:
            if text.count(opener) % 2:
                missing.append(closer)
        elif text.count(opener) > text.count(closer):
            missing.append(closer)
    return missing


def balanced(sentence: str, span: tuple[int, int]) -> tuple[int, int]:
    """``span`` with its quote marks and brackets paired: the closing mark that follows it is taken in when
    a mark inside it is left open («نموذج "R2» → «نموذج "R2"»), a pair around the whole span is dropped
    («(118)» → «118»), and so is an opening mark at its start or a closing mark at its end without a
    partner inside it. As it is when nothing would remain."""
    start, end = span
    missing = _unclosed(sentence[start:end])
    while end < len(sentence) and sentence[end] in missing:
        missing.remove(sentence[end])
        end += 1
    text = sentence[start:end]
    if len(text) > 2 and _PAIRS.get(text[0]) == text[-1] and not {text[0], text[-1]} & set(text[1:-1]):
        start, end = start + 1, end - 1  # one pair around the whole span: «(118)» → «118»
    while end - start > 1:
        text = sentence[start:end]
        first, last = text[0], text[-1]
        if first in _PAIRS and _PAIRS[first] not in text[1:]:
            start += 1
        elif last in _CLOSERS and _CLOSERS[last] not in text[:-1]:
            end -= 1
        else:
            break
        while start < end and sentence[start].isspace():
            start += 1
    return (start, end) if sentence[start:end].strip() else span
