from __future__ import annotations

import pytest

from rag.normalize import ascii_digits, normalize_arabic, strip_article, tokenize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("أإآٱا", "ااااا"),
        ("مستشفى", "مستشفي"),
        ("شركة", "شركه"),
        ("مُدرَّب", "مدرب"),
        ("إطـــلاق", "اطلاق"),
        ("٢٠٢٥ و۱۲۳", "2025 و123"),
        ("لماذا؟ نعم، لا؛", "لماذا? نعم, لا;"),
        ("«ديب سيك»", '"ديب سيك"'),
        ("NVIDIA  Nvidia", "nvidia nvidia"),
        ("\ufefbعلام", "لاعلام"),  # NFKC folds the lam-alef ligature
        ("a\u200fb", "ab"),
    ],
)
def test_normalize_arabic(raw: str, expected: str) -> None:
    assert normalize_arabic(raw) == expected


def test_normalize_is_idempotent() -> None:
    text = "أجّلت شركة «ديب سيك» إطلاق نموذجها ٢ مرةً؟"
    assert normalize_arabic(normalize_arabic(text)) == normalize_arabic(text)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("الرقائق", "الرقائق"[2:]),
        ("والشركة", "الشركة"[2:]),
        ("بالذكاء", "ذكاء"),
        ("للشركات", "شركات"),
        ("ال", "ال"),
    ],
)
def test_strip_article(token: str, expected: str) -> None:
    assert strip_article(token) == expected


def test_tokenize_matches_across_spelling_variants() -> None:
    assert tokenize("إطلاق النموذج؟") == tokenize("اطلاق نموذج")
    assert tokenize("شركة هواوي") == tokenize("الشركه هواوى")
    assert tokenize("...!!! ؟") == []


@pytest.mark.parametrize(
    ("word", "stem"),
    [
        ("مقررًا", "مقرر"),
        ("الشركات", "شرك"),
        ("والمطورون", "مطور"),
        ("نموذجها", "نموذج"),
        ("R2", "r2"),
        ("في", "في"),
    ],
)
def test_light_stem_through_tokenize(word: str, stem: str) -> None:
    assert tokenize(word) == [stem]


def test_short_words_keep_their_endings() -> None:
    # Stripping needs three letters left: "بها" must not become "ب".
    assert tokenize("بها") == ["بها"]


def test_ascii_digits_keeps_every_offset() -> None:
    text = "سنة ١٩٧٥ و۲۰۲۶، «R2»"
    converted = ascii_digits(text)
    assert converted == "سنة 1975 و2026، «R2»"  # only the digits change: no folding, no spacing
    assert len(converted) == len(text)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("وDoubao", ["doubao"]),
        ("ولـNvidia", ["nvidia"]),  # tatweel between the clitics and the name
        ("بـ20 مليار", ["20", "مليار"]),
        ("فالـiPhone", ["iphone"]),
        ("للـAI", ["ai"]),
        ("وH800", ["h800"]),
    ],
)
def test_clitics_glued_to_a_latin_word_or_a_number_are_split_off(text: str, tokens: list[str]) -> None:
    assert tokenize(text) == tokens


def test_arabic_words_keep_their_letters_next_to_latin_ones() -> None:
    # Only clitics go: a whole Arabic word, or one that only starts like a clitic, is never cut.
    assert tokenize("ودوباو") == ["ودوباو"]
    assert tokenize("بايدو Baidu") == ["بايدو", "baidu"]
    assert tokenize("H20") == ["h20"]
