"""Listing screening (groundwork of the intelligence issue): marks found in titles through the disguises
counterfeiters use, short marks only as whole words, counterfeit indicators weighing the score."""
import pytest

from portal.intel.screening import Screener, skeleton, spaced_skeleton

MARKS = [(1, "LOUIS VUITTON"), (2, "LV"), (3, "SWAROVSKI"), (4, "XBOX"), (5, "Louis Vuitton"), (6, "路易威登"),
         (7, "GG")]


@pytest.fixture(scope="module")
def screener():
    return Screener(MARKS)


@pytest.mark.parametrize("title, word, disguised", [
    ("Louis Vuitton Neverfull MM", "LOUIS VUITTON", False),
    ("LOUIS VUITTON speedy", "LOUIS VUITTON", False),
    ("louis   vuitton   wallet", "LOUIS VUITTON", False),
    ("L o u i s  V u i t t o n bag", "LOUIS VUITTON", True),  # spacing
    ("L.o.u.i.s-V_u_i_t_t_o_n", "LOUIS VUITTON", True),  # inserted punctuation
    ("Loúis Vuittón", "LOUIS VUITTON", True),  # diacritics
    ("L0u1s V1tt0n", None, None),  # a letter missing ("V1tt0n"): not the mark
    ("L0u1s Vu1tt0n", "LOUIS VUITTON", True),  # leetspeak
    ("Lоuis Vuіttоn", "LOUIS VUITTON", True),  # Cyrillic о and і
    ("Ｌｏｕｉｓ Ｖｕｉｔｔｏｎ", "LOUIS VUITTON", True),  # fullwidth
    ("LOUlS VUlTTON", "LOUIS VUITTON", True),  # lower-case L for I
    ("S.W.A.R.0.V.S.K.I crystal swan", "SWAROVSKI", True),
    ("$warov$ki earrings", "SWAROVSKI", True),
    ("XB0X controller", "XBOX", True),
    ("X B O X one pad", "XBOX", True),
    ("LV monogram", "LV", False),
    ("L.V. wallet", "LV", True),
    ("l v belt", "LV", True),
    ("正品路易威登包", "路易威登", False),
])
def test_marks_are_found_through_disguises(screener, title, word, disguised):
    hits = screener.screen_title(title)
    if word is None:
        assert hits == []
        return
    assert [h.word for h in hits][:1] == [word]
    assert hits[0].disguised is disguised


@pytest.mark.parametrize("title", ["silver ring 925", "clvb shoes", "evolve sneakers", "egg cup", "Gucci GGG",
                                   "Vuitton", "Swarovsky-ish", "xbo x"])
def test_short_marks_match_only_whole_words_and_near_misses_do_not_match(screener, title):
    assert screener.screen_title(title) == []


def test_indicators_raise_the_score_and_are_named(screener):
    plain = screener.screen_title("Louis Vuitton Neverfull")[0]
    flagged = screener.screen_title("Louis Vuitton Neverfull replica 1:1 AAA mirror quality")[0]
    assert plain.score == 0.6 and plain.indicators == []
    assert set(flagged.indicators) == {"replica", "1:1", "aaa", "mirror quality"}
    assert flagged.score == 0.9 and "replica" in flagged.reason
    disguised = screener.screen_title("L o u i s V u i t t o n r e p l i c a")[0]
    assert disguised.score == 0.85 and disguised.indicators == ["replica"] and "disguise" in disguised.reason
    assert screener.screen_title("高仿 LV 包包")[0].indicators == ["高仿"]
    assert screener.screen_title("高仿路易威登包")[0].indicators == ["高仿"]  # CJK needs no spaces


def test_registrations_of_one_word_are_one_hit_naming_every_mark(screener):
    [hit] = screener.screen_title("LOUIS VUITTON bag")
    assert hit.mark_ids == [1, 5] and hit.as_dict()["mark_ids"] == [1, 5]


def test_titles_without_a_mark_are_not_hits_even_with_indicators(screener):
    assert screener.screen_title("replica 1:1 AAA handbag") == []
    assert screener.screen_title("") == [] and screener.screen_title(None) == []


def test_skeletons():
    assert skeleton("L.0.u.i.s V u i t t o n") == "iouisvuitton"
    assert spaced_skeleton("L.V. bag!!") == " i v bag "
    assert skeleton("Ｓｗａｒｏｖｓｋｉ") == "swarovski"


def test_a_brand_without_marks_finds_nothing():
    empty = Screener([])
    assert empty.screen_title("Louis Vuitton replica") == [] and empty.count_hits(["LV"]) == 0


def test_count_hits_agrees_with_screen_title(screener):
    titles = ["LV bag", "silver", "L o u i s Vuitton", "xb0x", "nothing here", "S W A R O V S K I"]
    assert screener.count_hits(titles) == sum(1 for t in titles if screener.screen_title(t))
