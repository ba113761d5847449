"""Tests for rag.documents: loading every supported format and cleaning scraped Arabic news text."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from rag import documents
from rag.documents import (
    Article,
    LoadProblem,
    clean_text,
    iter_article_files,
    load_articles,
    load_file,
    load_rules,
)
from rag.errors import DocumentError

DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "articles"

BODY_AR = (
    "أعلنت شركة آبل اليوم عن إطلاق هاتفها الجديد الذي يدعم ميزات متقدمة للذكاء الاصطناعي "
    "ويأتي بمعالج أسرع من الجيل السابق بنسبة كبيرة وفقا لبيان الشركة."
)
BODY_AR_2 = "وقالت الشركة إن الهاتف سيتوفر في الأسواق العربية خلال الشهر المقبل بأسعار تبدأ من ألف دولار."


def _paragraphs(article: Article) -> list[str]:
    return article.text.split("\n\n")


def _source_lines(path: Path) -> set[str]:
    return {line.strip() for line in path.read_text(encoding="utf-8").splitlines()}


def _demo(stem_prefix: str) -> Path:
    (path,) = DEMO_DIR.glob(f"{stem_prefix}_*.txt")
    return path


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- the five demo articles -------------------------------------------------------------------------

DEMO_EXPECTED = {
    "000": {
        "title": 'أجّلت شركة الذكاء الاصطناعي الصينية الناشئة "ديب سيك" إطلاق نموذجها الجديد '
        "للذكاء الاصطناعي بسبب فشل…",
        "author": "",
        "source": "",
        "first": 'أجّلت شركة الذكاء الاصطناعي الصينية الناشئة "ديب سيك" إطلاق نموذجها الجديد للذكاء '
        "الاصطناعي بسبب فشل جهود التدريب باستخدام رقائق هواوي.",
        "paragraphs": 11,
        "present": ['وأفادت تقارير إعلامية صينية أن نموذج "R2" سيُطرح في الأسابيع المقبلة'],
        "absent_paragraphs": [],
    },
    "001": {
        "title": "ديب سيك يختار شرائح هواوي بدلًا من إنفيديا، فهل ينجح؟",
        "author": "مصطفى يسري",
        "source": "",
        "first": 'أعلنت "ديب سيك" عن اعتماد رقائق هواوي لتطوير نماذج ذكاء اصطناعي صغيرة.',
        "paragraphs": 12,
        "present": [
            "تستخدم ديب سيك خليطًا من معالجات هواوي وإنفيديا للنماذج المختلفة.",
            "الخلاصة أن قصة ديب سيك مع هواوي وإنفيديا ليست مجرد قرار فني عابر",
        ],
        "absent_paragraphs": ["ذكاء اصطناعي", "مصطفى يسري", "3 د", "ذو صلة"],
    },
    "002": {
        "title": "تأجيل إطلاق نموذج DeepSeek الجديد بسبب تعثر الاعتماد على الرقائق الصينية",
        "author": "إسراء حموده ابوالعنين",
        "source": "",
        "first": "اضطرت شركة الذكاء الاصطناعي الصينية DeepSeek إلى تأجيل طرح نموذجها الجديد R2",
        "paragraphs": 9,
        "present": [
            "تحديات التدريب مقابل الاستخدام التشغيلي",
            "توصلت مؤخرًا إلى اتفاق يمنح الحكومة الأمريكية نسبة من عائداتها في الصين",
        ],
        "absent_paragraphs": ["علوم وتكنولوجيا", "\xa0", ""],
    },
    "003": {
        "title": 'أفادت صحيفة "وول ستريت جورنال" في تقرير، الأحد، بأن شركات التكنولوجيا في الصين '
        "تدرس اللجوء…",
        "author": "",
        "source": "",
        "first": 'أفادت صحيفة "وول ستريت جورنال" في تقرير، الأحد، بأن شركات التكنولوجيا في الصين',
        "paragraphs": 14,
        "present": ["رقائق أقل كفاءة", "وعلقت Baidu استخدام A100s"],
        "absent_paragraphs": [],
    },
    "004": {
        "title": "بسبب قيود واشنطن.. شركات صينية تدرب نماذج الذكاء الاصطناعي بالخارج",
        "author": "",
        "source": "الشرق",
        "first": "قررت كبرى الشركات الصينية تدريب نماذج الذكاء الاصطناعي الخاصة بها في الخارج",
        "paragraphs": 15,
        "present": [
            "استثناءات",
            "ومن الاستثناءات شركة Deep Seek، المُصنّعة لنماذج الذكاء الاصطناعي عالية الجودة",
            "يجب أن يبقى التدريب في الصين.",
        ],
        "absent_paragraphs": ["دبي-الشرق"],
    },
}

# Boilerplate that must not survive anywhere in any demo article body.
DEMO_BOILERPLATE = [
    "ذو صلة",
    "زر الذهاب إلى الأعلى",
    "إقرأ أيضا",
    "مقالات ذات صلة",
    "اترك تعليقاً",
    "لن يتم نشر عنوان بريدك الإلكتروني",
    "قصص قد تهمك",
    "تصنيفات",
    "REUTERS",
    "صورة توضيحية",
    "صحفية مصرية",
    "إسراء",
    "مساعٍ فرنسية-ألمانية",
    "مصطفى يسري",
    "دبي-الشرق",
    "\xa0\n",
]


@pytest.fixture(scope="module")
def demo_articles() -> dict[str, Article]:
    loaded = {}
    for prefix in DEMO_EXPECTED:
        (article,) = load_file(_demo(prefix))
        loaded[prefix] = article
    return loaded


@pytest.mark.parametrize("prefix", sorted(DEMO_EXPECTED))
def test_demo_metadata(demo_articles: dict[str, Article], prefix: str) -> None:
    article = demo_articles[prefix]
    expected = DEMO_EXPECTED[prefix]
    assert article.id == _demo(prefix).stem
    assert article.title == expected["title"]
    assert article.author == expected["author"]
    assert article.source == expected["source"]
    assert article.path == str(_demo(prefix))


@pytest.mark.parametrize("prefix", sorted(DEMO_EXPECTED))
def test_demo_body(demo_articles: dict[str, Article], prefix: str) -> None:
    article = demo_articles[prefix]
    expected = DEMO_EXPECTED[prefix]
    paragraphs = _paragraphs(article)
    assert article.text.startswith(expected["first"])
    assert len(paragraphs) == expected["paragraphs"]
    for sentence in expected["present"]:
        assert sentence in article.text
    for line in expected["absent_paragraphs"]:
        assert line not in paragraphs
    for phrase in DEMO_BOILERPLATE:
        assert phrase not in article.text, phrase


@pytest.mark.parametrize("prefix", sorted(DEMO_EXPECTED))
def test_demo_body_lines_are_byte_identical_source_lines(
    demo_articles: dict[str, Article], prefix: str
) -> None:
    source = _source_lines(_demo(prefix))
    for paragraph in _paragraphs(demo_articles[prefix]):
        assert paragraph in source
        assert paragraph == paragraph.strip()


def test_titled_demo_article_text_does_not_start_with_title(demo_articles: dict[str, Article]) -> None:
    for prefix in ("001", "002", "004"):
        article = demo_articles[prefix]
        assert article.title not in article.text


def test_load_articles_on_demo_directory() -> None:
    result = load_articles([DEMO_DIR])
    assert result.problems == []
    assert result.files_read == 5
    assert [a.id for a in result.articles] == sorted(p.stem for p in DEMO_DIR.glob("*.txt"))


# --- clean_text rules -------------------------------------------------------------------------------


def test_clean_text_reading_time_variants_and_label_heuristic() -> None:
    raw = "\n".join(
        [
            "هواتف قابلة",  # unknown short label: stands apart and a headline follows
            "",
            "سامسونج تكشف عن هاتف جديد قابل للطي",
            "",
            "5 دقائق قراءة",
            "",
            BODY_AR,
            "",
            "٤ د",
            BODY_AR_2,
        ]
    )
    cleaned = clean_text(raw)
    assert cleaned.title == "سامسونج تكشف عن هاتف جديد قابل للطي"
    assert cleaned.body == f"{BODY_AR}\n\n{BODY_AR_2}"
    assert not cleaned.title_derived


def test_clean_text_known_section_label_without_blank_line() -> None:
    cleaned = clean_text(f"الأمن السيبراني\nاختراق جديد يطال ملايين المستخدمين\n{BODY_AR}")
    assert cleaned.title == "اختراق جديد يطال ملايين المستخدمين"
    assert cleaned.body == BODY_AR


def test_clean_text_repeated_lines_title_then_byline_then_caption() -> None:
    caption = "لقطة من المؤتمر السنوي للشركة في مدينة سان فرانسيسكو الأمريكية أمس"
    raw = "\n".join(["آبل تطلق هاتفا", "آبل تطلق هاتفا", "سارة أحمد", "سارة أحمد", caption, caption, BODY_AR])
    cleaned = clean_text(raw)
    assert (cleaned.title, cleaned.author, cleaned.body) == ("آبل تطلق هاتفا", "سارة أحمد", BODY_AR)


def test_clean_text_uses_given_rules(tmp_path: Path) -> None:
    data = json.loads(documents.RULES_PATH.read_text(encoding="utf-8"))
    data["remove_lines"].append("تابعونا على تويتر")
    rules_path = _write(tmp_path / "rules.json", json.dumps(data, ensure_ascii=False))
    raw = f"عنوان الخبر\n{BODY_AR}\nتابعونا على تويتر!\n{BODY_AR_2}"
    assert clean_text(raw).body.count("\n\n") == 2
    assert clean_text(raw, load_rules(rules_path)).body == f"{BODY_AR}\n\n{BODY_AR_2}"


def test_clean_text_caption_by_agency_credit_and_dateline_with_spaces() -> None:
    raw = "\n".join(
        [
            "إنفيديا تعلن عن رقائق جديدة",
            "القاهرة - رويترز",
            BODY_AR,
            "صورة لمقر الشركة في كاليفورنيا (AFP)",
            BODY_AR_2,
            "صورة المستقبل كما تراها شركة Snap",  # no agency credit: a sentence, not a caption
        ]
    )
    cleaned = clean_text(raw)
    assert cleaned.source == "رويترز"
    assert cleaned.body == f"{BODY_AR}\n\n{BODY_AR_2}\n\nصورة المستقبل كما تراها شركة Snap"


def test_clean_text_inline_read_also_keeps_following_body() -> None:
    raw = "\n".join(
        [
            "عنوان الخبر عن الرقائق",
            BODY_AR,
            "اقرأ أيضاً:",
            "عنوان مقال آخر لا علاقة له",
            BODY_AR_2 + " " + BODY_AR,
        ]
    )
    cleaned = clean_text(raw)
    assert cleaned.body == f"{BODY_AR}\n\n{BODY_AR_2} {BODY_AR}"


def test_clean_text_widget_lines_removed_mid_article() -> None:
    raw = "\n".join(
        [
            "عنوان الخبر",
            BODY_AR,
            "زر الذهاب إلى الأعلى",
            "لن يتم نشر عنوان بريدك الإلكتروني. الحقول الإلزامية مشار إليها بـ *",
            "ذو صلة",
            BODY_AR_2 + " " + BODY_AR,
        ]
    )
    assert clean_text(raw).body == f"{BODY_AR}\n\n{BODY_AR_2} {BODY_AR}"


def test_clean_text_large_input_is_fast() -> None:
    raw = "عنوان\n" + "\n".join(["سطر قصير", BODY_AR] * 20000)
    assert clean_text(raw).body.count(BODY_AR) == 20000


def test_clean_text_trailing_block_cut_even_when_marker_words_vary() -> None:
    raw = f"عنوان\u0640 الخبر\n{BODY_AR}\n{BODY_AR_2}\nقد يهمك أيضاً\nخبر قصير\nخبر آخر"
    cleaned = clean_text(raw)
    assert cleaned.body == f"{BODY_AR}\n\n{BODY_AR_2}"


def test_clean_text_derived_title_keeps_sentence_in_body() -> None:
    first = "قالت الشركة إن أرباحها ارتفعت بقوة هذا العام. وأضافت أن المبيعات تضاعفت."
    cleaned = clean_text(f"{first}\n{BODY_AR}")
    assert cleaned.title_derived
    assert cleaned.title == "قالت الشركة إن أرباحها ارتفعت بقوة هذا العام"
    assert cleaned.body == f"{first}\n\n{BODY_AR}"


def test_clean_text_known_title_drops_repeated_first_line() -> None:
    cleaned = clean_text(f"عنوان الخبر\n{BODY_AR}", known_title="عنوان الخبر")
    assert cleaned.title == "عنوان الخبر"
    assert cleaned.body == BODY_AR


def test_clean_text_does_not_normalize_arabic() -> None:
    text = "أَعلنَت شركةُ «إنفيديا» عن رقاقةٍ جديدة ـــ بسرعةٍ أعلى؛ وإيرادات ٣٠٠ مليون."
    assert clean_text(text).body == text


def test_rules_file_loads_and_is_data() -> None:
    rules = load_rules()
    assert "ذو صلة" in rules.remove_lines
    assert rules.derived_title_words == 15
    assert documents.RULES_PATH.name == "boilerplate.json"


# --- markdown ---------------------------------------------------------------------------------------


def test_markdown_with_front_matter(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "apple-phone.md",
        "---\n"
        'title: "آبل تطلق هاتفا جديدا"\n'
        "author: سارة أحمد\n"
        "source: عالم التقنية\n"
        "published: 2025-08-14\n"
        "url: https://example.com/apple\n"
        "---\n"
        "# آبل تطلق هاتفا جديدا\n"
        "\n"
        "![صورة الهاتف](https://example.com/phone.png)\n"
        "\n"
        "أعلنت شركة [آبل](https://apple.com) اليوم عن إطلاق هاتفها الجديد\n"
        "الذي يدعم ميزات متقدمة.\n"
        "\n"
        "## المواصفات\n"
        "\n"
        f"{BODY_AR_2}\n",
    )
    (article,) = load_file(path)
    assert article.id == "apple-phone"
    assert article.title == "آبل تطلق هاتفا جديدا"
    assert article.author == "سارة أحمد"
    assert article.source == "عالم التقنية"
    assert article.published == "2025-08-14"
    assert article.url == "https://example.com/apple"
    assert article.text == (
        f"أعلنت شركة آبل اليوم عن إطلاق هاتفها الجديد الذي يدعم ميزات متقدمة.\n\nالمواصفات\n\n{BODY_AR_2}"
    )


def test_markdown_without_front_matter_uses_first_heading(tmp_path: Path) -> None:
    path = _write(tmp_path / "n.md", f"# عنوان من العنوان الرئيسي\n\n{BODY_AR}\n")
    (article,) = load_file(path)
    assert article.title == "عنوان من العنوان الرئيسي"
    assert article.text == BODY_AR


# --- JSONL ------------------------------------------------------------------------------------------


def test_jsonl_good_and_bad_lines(tmp_path: Path) -> None:
    good = {
        "id": "a1",
        "title": "عنوان أول",
        "text": f"{BODY_AR}\n\nذو صلة\n\n{BODY_AR_2}",
        "source": "المصدر",
        "author": "كاتب",
        "published": "2025-08-01T10:00:00Z",
        "url": "https://example.com/a1",
    }
    untitled = {"id": 7, "text": BODY_AR_2}
    lines = [
        json.dumps(good, ensure_ascii=False),
        "{not json",
        "",
        json.dumps({"title": "بلا معرف", "text": BODY_AR}, ensure_ascii=False),
        json.dumps(["a", "list"]),
        json.dumps({"id": "x", "text": "   "}),
        json.dumps(untitled, ensure_ascii=False),
    ]
    path = _write(tmp_path / "batch.jsonl", "\n".join(lines) + "\n")

    articles = load_file(path)
    assert [a.id for a in articles] == ["a1", "7"]
    first, second = articles
    assert first.title == "عنوان أول"
    assert first.text == f"{BODY_AR}\n\n{BODY_AR_2}"
    assert (first.source, first.author, first.url) == ("المصدر", "كاتب", "https://example.com/a1")
    assert first.published == "2025-08-01T10:00:00+00:00"
    # No title in the record: derived from the first sentence, cut to 15 words.
    assert second.title == " ".join(BODY_AR_2.split()[:15]) + "…"

    result = load_articles([path])
    assert [a.id for a in result.articles] == ["a1", "7"]
    assert [p.line for p in result.problems] == [2, 4, 5, 6]
    assert all(p.path == str(path) for p in result.problems)
    assert "invalid JSON" in result.problems[0].message
    assert "'id'" in result.problems[1].message
    assert "JSON object" in result.problems[2].message
    assert "'text'" in result.problems[3].message
    assert all("\n" not in p.message and "batch.jsonl" in p.message for p in result.problems)


def test_jsonl_without_good_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.jsonl", '{"id": "x"}\nnope\n')
    with pytest.raises(DocumentError, match=r"bad\.jsonl"):
        load_file(path)
    result = load_articles([path])
    assert result.articles == []
    assert [p.line for p in result.problems] == [1, 2]


def test_jsonl_text_with_line_separator_char(tmp_path: Path) -> None:
    record = {"id": "s", "title": "ع", "text": f"{BODY_AR}\u2028{BODY_AR_2}"}
    path = _write(tmp_path / "sep.jsonl", json.dumps(record, ensure_ascii=False))
    (article,) = load_file(path)
    assert BODY_AR_2 in article.text


# --- HTML -------------------------------------------------------------------------------------------

HTML_PAGE = f"""<!DOCTYPE html>
<html lang="ar" dir="rtl"><head>
<meta charset="utf-8">
<title>إنفيديا تكشف عن رقائق جديدة - موقع التقنية</title>
<meta name="author" content="أحمد علي">
<meta property="og:site_name" content="موقع التقنية">
<meta property="article:published_time" content="2025-08-14T10:00:00Z">
<link rel="canonical" href="https://example.com/news/nvidia-chips">
<script>var tracking = "SCRIPT_SECRET_TOKEN";</script>
<style>.headline {{ color: red; }} STYLE_SECRET_TOKEN</style>
</head><body>
<nav><a href="/">الرئيسية</a></nav>
<article>
<h1>إنفيديا تكشف عن رقائق جديدة</h1>
<p>{BODY_AR}</p>
<script>document.write("INLINE_SCRIPT_TOKEN");</script>
<p>{BODY_AR_2}</p>
<p>ذو صلة</p>
</article>
</body></html>
"""


def test_html_extraction(tmp_path: Path) -> None:
    path = _write(tmp_path / "nvidia.html", HTML_PAGE)
    (article,) = load_file(path)
    assert article.id == "nvidia"
    assert article.title == "إنفيديا تكشف عن رقائق جديدة"
    assert article.author == "أحمد علي"
    assert article.source == "موقع التقنية"
    assert article.url == "https://example.com/news/nvidia-chips"
    assert article.published == "2025-08-14"
    assert article.text == f"{BODY_AR}\n\n{BODY_AR_2}"
    for token in ("SCRIPT_SECRET_TOKEN", "STYLE_SECRET_TOKEN", "INLINE_SCRIPT_TOKEN", "color"):
        assert token not in article.text


# --- encodings and unusable files -------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["cp1256", "iso-8859-6"])
def test_legacy_arabic_encodings(tmp_path: Path, encoding: str) -> None:
    text = "عنوان الخبر\n\nأعلنت الشركة عن هاتف جديد يدعم الذكاء الاصطناعي في مؤتمرها السنوي."
    path = tmp_path / "legacy.txt"
    path.write_bytes(text.encode(encoding))
    (article,) = load_file(path)
    assert article.title == "عنوان الخبر"
    assert article.text == "أعلنت الشركة عن هاتف جديد يدعم الذكاء الاصطناعي في مؤتمرها السنوي."


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_unicode_with_bom(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(f"عنوان الخبر\n{BODY_AR}".encode(encoding))
    (article,) = load_file(path)
    assert article.title == "عنوان الخبر"
    assert article.text == BODY_AR


@pytest.mark.parametrize("content", [b"", b"   \n\t\n", "\xa0\n\u200f\n".encode()])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=r"empty\.txt: empty file"):
        load_file(path)


@pytest.mark.parametrize(
    "content",
    [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(100), bytes(range(1, 256)) * 40],
    ids=["nul-bytes", "control-bytes"],
)
def test_binary_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(content)
    with pytest.raises(DocumentError, match=r"image\.txt: binary file, not text"):
        load_file(path)


def test_oversize_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("rag.loaders.files.MAX_FILE_BYTES", 100)
    path = _write(tmp_path / "big.txt", BODY_AR * 3)
    with pytest.raises(DocumentError, match=r"big\.txt: file too large \(.* bytes; the limit is 100 bytes\)"):
        load_file(path)


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = _write(tmp_path / "notes.pdf", BODY_AR)
    with pytest.raises(DocumentError, match=r"notes\.pdf: unsupported file type '\.pdf'"):
        load_file(path)


def test_only_boilerplate_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "widgets.txt", "ذو صلة\n\nزر الذهاب إلى الأعلى\n")
    with pytest.raises(DocumentError, match="no article text"):
        load_file(path)


def test_english_article_loads_and_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    body = "Nvidia unveiled a new chip on Tuesday. The company said it is twice as fast."
    path = _write(tmp_path / "en.txt", f"Nvidia unveils a new chip\n\n{body}\n")
    with caplog.at_level(logging.INFO, logger="rag.loaders.base"):
        (article,) = load_file(path)
    assert article.title == "Nvidia unveils a new chip"
    assert article.text == body
    assert any("no Arabic text" in r.getMessage() for r in caplog.records)


# --- collections of files ---------------------------------------------------------------------------


def test_directory_recursion(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    _write(root / "b.txt", f"عنوان ب\n{BODY_AR}")
    _write(root / "a.md", f"# عنوان أ\n\n{BODY_AR}")
    _write(root / "sub" / "deeper" / "c.txt", f"عنوان ج\n{BODY_AR}")
    _write(root / "sub" / "d.HTML", HTML_PAGE)
    _write(root / "notes.pdf", "ignored")
    _write(root / ".hidden.txt", "ignored")
    _write(root / ".git" / "e.txt", "ignored")

    files = list(iter_article_files([root]))
    assert [p.relative_to(root).as_posix() for p in files] == [
        "a.md",
        "b.txt",
        "sub/d.HTML",
        "sub/deeper/c.txt",
    ]
    single = _write(tmp_path / "single.txt", f"عنوان\n{BODY_AR}")
    assert list(iter_article_files(single)) == [single]

    result = load_articles([root, single])
    assert [a.id for a in result.articles] == ["a", "b", "d", "c", "single"]
    assert result.files_read == 5
    assert result.problems == []


def test_missing_path_and_bad_file_do_not_abort(tmp_path: Path) -> None:
    good = _write(tmp_path / "good.txt", f"عنوان\n{BODY_AR}")
    empty = _write(tmp_path / "empty.txt", "")
    missing = tmp_path / "nowhere"
    result = load_articles([missing, empty, good], progress=True)
    assert [a.id for a in result.articles] == ["good"]
    assert result.files_read == 2
    assert result.problems == [
        LoadProblem(str(missing), f"{missing}: no such file or directory"),
        LoadProblem(str(empty), f"{empty}: empty file"),
    ]
    with pytest.raises(DocumentError, match="no such file"):
        list(iter_article_files([missing]))


def test_duplicate_ids_keep_last(tmp_path: Path) -> None:
    first = _write(tmp_path / "one" / "same.txt", f"العنوان الأول\n{BODY_AR}")
    second = _write(tmp_path / "two" / "same.txt", f"العنوان الثاني\n{BODY_AR_2}")
    result = load_articles([first, second])
    (article,) = result.articles
    assert article.title == "العنوان الثاني"
    assert article.path == str(second)
    (problem,) = result.problems
    assert problem.path == str(second)
    assert "duplicate article id 'same'" in problem.message
    assert str(first) in problem.message


# --- Article ----------------------------------------------------------------------------------------


def test_article_round_trip_and_content_hash() -> None:
    article = Article(
        id="x1",
        title="عنوان",
        text=BODY_AR,
        source="المصدر",
        author="الكاتب",
        published="2025-08-14",
        url="https://example.com/x1",
        path="data/x1.txt",
    )
    as_dict = article.to_dict()
    assert as_dict == {
        "id": "x1",
        "title": "عنوان",
        "text": BODY_AR,
        "source": "المصدر",
        "author": "الكاتب",
        "published": "2025-08-14",
        "url": "https://example.com/x1",
        "path": "data/x1.txt",
    }
    assert Article.from_dict(as_dict) == article
    assert Article.from_dict({**as_dict, "extra": "ignored"}) == article
    assert Article.from_dict({"id": "m", "text": "t"}) == Article(id="m", title="", text="t")

    assert len(article.content_hash) == 64
    same = Article.from_dict({**as_dict, "author": "آخر", "url": ""})
    assert same.content_hash == article.content_hash
    changed_text = Article.from_dict({**as_dict, "text": BODY_AR + " "})
    changed_title = Article.from_dict({**as_dict, "title": "عنوان آخر"})
    assert changed_text.content_hash != article.content_hash
    assert changed_title.content_hash != article.content_hash
    with pytest.raises(ValueError, match="'text'"):
        Article.from_dict({"id": "m"})
