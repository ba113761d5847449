"""Lexical sentence scoring (rag.answering.scoring): rare question words and answer-type cues."""

from __future__ import annotations

from unittest import mock

import rag.answering.scoring as scoring
from rag.answering.scoring import SentenceScorer
from rag.answering.unnamed import names_role

QUESTION = "من هو مؤسس شركة ديب سيك؟"
ABOUT = "أجلت شركة ديب سيك إطلاق نموذجها الجديد بسبب فشل التدريب."
NAMED = "لكن مؤسس الشركة ليانغ وينفنغ أعرب عن عدم رضاه."
UNNAMED = "وقال مؤسس في شركة ناشئة إن التدريب صعب."
# The subject, repeated as in news: «ديب سيك» says little about which sentence answers.
SUBJECT = "وتعمل ديب سيك على نموذج جديد. وتنافس شركة ديب سيك شركات أمريكية."


def test_names_role_tells_a_named_mention_from_an_unnamed_one() -> None:
    assert names_role("موسس", NAMED)
    assert not names_role("موسس", UNNAMED)  # «مؤسس في شركة»: no name follows
    assert not names_role("موسس", ABOUT)  # no mention at all


def test_the_sentence_naming_the_asked_role_earns_the_cue_bonus() -> None:
    pool = [f"{ABOUT} {NAMED} {SUBJECT}"]
    scorer = SentenceScorer(QUESTION, pool)
    assert scorer(NAMED) > scorer(ABOUT)
    # Without the cue the sentence with more topic words wins: the bonus is what moves the name first.
    with mock.patch.object(scoring, "names_role", lambda role, sentence: False):
        plain = SentenceScorer(QUESTION, pool)
        named, about, unnamed = plain(NAMED), plain(ABOUT), plain(UNNAMED)
    assert named < about
    assert abs(scorer(NAMED) - named - scoring._CUE_BONUS) < 1e-9
    assert scorer(UNNAMED) == unnamed  # an unnamed mention earns nothing


def test_questions_that_ask_no_role_get_no_role_cue() -> None:
    pool = [f"{ABOUT} {NAMED}"]
    scorer = SentenceScorer("لماذا أجلت ديب سيك إطلاق نموذجها؟", pool)
    assert scorer.role is None
    plain = scorer(NAMED)
    with mock.patch.object(scoring, "names_role", lambda role, sentence: True):
        assert scorer(NAMED) == plain
