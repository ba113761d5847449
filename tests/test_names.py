"""The name check of English renderings (rag.answering.names), on renderings the 1.5B reader wrote."""

from __future__ import annotations

import pytest

from rag.answering.english import faithful
from rag.answering.known_names import keeps_known_names, known_names_in
from rag.answering.names import english_names, names_accounted_for, quoted_names
from rag.normalize import normalize_arabic

DATA_CENTRES = (
    "وإلى جانب التدريب، تستخدم شركات التكنولوجيا الصينية أيضاً مراكز بيانات في جنوب شرق آسيا لخدمة عملائها "
    'في الخارج، حيث تسعى "علي بابا" و"بايت دانس" إلى زيادة حصتهما في سوق الحوسبة السحابية العالمية.'
)
WSJ = (
    'أفادت صحيفة "وول ستريت جورنال" في تقرير، الأحد، بأن شركات التكنولوجيا في الصين تدرس اللجوء إلى '
    "أشباه موصلات أقل كفاءة لتطوير الذكاء الاصطناعي، بدلاً من الاعتماد على الرقائق الأميركية الحديثة."
)
ASCEND = 'وواجهت "ديب سيك" مشكلات عند تدريب نموذج R2 باستخدام رقائق Ascend، مما دفعها إلى رقائق إنفيديا.'
ON_ASCEND = "DeepSeek faced technical problems training R2 on Ascend chips"


@pytest.mark.parametrize(
    ("arabic", "english"),
    [
        (
            DATA_CENTRES,
            "Chinese tech companies also use data centers in Southeast Asia to serve customers abroad, as "
            '"Alibaba" and "ByteDance" seek to grow their share of the global cloud market.',
        ),
        (
            WSJ,
            "The Wall Street Journal reported on Sunday that technology companies in China are considering "
            "less efficient semiconductors to develop AI instead of relying on modern American chips.",
        ),
        (ASCEND, f"{ON_ASCEND}, pushing it to Nvidia chips."),
        ("لكن مؤسس الشركة ليانغ وينفنغ أعرب عن عدم رضاه.", "But the founder Liang Wenfeng was unhappy."),
        ("وتعمل سامسونج مع هواوي في سنغافورة.", "Samsung works with Huawei in Singapore."),
    ],
)
def test_a_rendering_that_keeps_the_names_passes(arabic: str, english: str) -> None:
    assert names_accounted_for(arabic, english)


@pytest.mark.parametrize(
    ("arabic", "english"),
    [
        # What the reader wrote: «علي بابا» became "Apple" (and Southeast Asia "the southern part of Asia").
        (
            DATA_CENTRES,
            "Chinese technology companies also use data centers in the southern part of Asia to serve "
            'customers abroad, where "Apple" and "ByteDance" aim to increase their share in the market.',
        ),
        # «رقائق إنفيديا» became "AMD graphics".
        (ASCEND, f"{ON_ASCEND}, forcing it to use AMD graphics."),
        # A Latin name of the sentence dropped.
        (ASCEND, "DeepSeek faced problems training R2 on Huawei chips, pushing it to Nvidia chips."),
        # The quoted newspaper dropped: «China's technology companies are researching…».
        (WSJ, "China's technology companies are researching cheaper chips instead of American chips."),
        # An unquoted known name dropped: «رقائق هواوي» became "high-end chips" (what the reader wrote).
        (
            "كان من المقرر إطلاق R2 في مايو، لكن المشكلات التقنية مع رقائق هواوي أخرت الإطلاق.",
            "R2 was due in May, but technical problems with high-end chips delayed the launch.",
        ),
        # An exonym the sentence does not have.
        ("وتعمل سامسونج مع هواوي في سنغافورة.", "Samsung works with Huawei in Japan."),
    ],
)
def test_a_rendering_that_adds_or_loses_a_name_fails(arabic: str, english: str) -> None:
    assert not names_accounted_for(arabic, english)
    assert not faithful(arabic, english)


def test_names_are_capitalised_words_past_the_first_acronyms_and_mixed_case() -> None:
    assert english_names("The company said DeepSeek and the US and Huawei. Sources said so.") == [
        "DeepSeek",
        "US",
        "Huawei",
    ]


def test_quoted_names_are_short_quoted_arabic_runs() -> None:
    said = 'قال «ديب سيك» و"علي بابا": "إن المنافسة على أشدها اليوم في السوق"'
    quoted = quoted_names(normalize_arabic(said))
    assert quoted == [["ديب", "سيك"], ["علي", "بابا"]]  # the quoted speech is translated, not a name


def test_known_names_are_found_with_clitics_and_kept_in_any_latin_spelling() -> None:
    arabic = 'وتسعى "علي بابا" ولإنفيديا شركاء، وليس في الذكاء الاصطناعي وغابة الأمازون اسم آخر.'
    assert known_names_in(arabic) == [("nvidia",), ("alibaba", "ali baba")]
    assert keeps_known_names(arabic, "Ali Baba and Nvidia's partners")
    assert keeps_known_names(arabic, "Alibaba and NVIDIA")
    assert not keeps_known_names(arabic, "Alibaba and its partners")
    # Whole words only: "intelligence" does not keep Intel.
    assert not keeps_known_names("وتعمل إنتل على ذلك.", "Artificial intelligence works on it.")
