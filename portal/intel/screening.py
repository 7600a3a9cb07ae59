"""Listing screening: find a brand's marks in marketplace listing titles, however they are disguised,
and weigh each hit by the counterfeit indicators around it ("replica", "1:1", "AAA", "mirror quality"...).

Counterfeiters write marks so that exact searches miss them: case ("lOuIs"), diacritics ("Loúis"), spacing
("L o u i s"), inserted punctuation ("L.o.u.i.s"), leetspeak ("V1tt0n"), look-alike letters from other
scripts (Cyrillic "Vuіttоn"), fullwidth forms. Titles and marks are both reduced to the same *skeleton*:
lower case, accents and compatibility forms removed, look-alikes and leet digits mapped to the Latin
letter they imitate, `l` and `i` (and `1 | !`) made one letter, everything that is not a letter dropped.
A mark is found when its skeleton occurs in the title's skeleton. One translation table built at import
does all of that in a single C-level `str.translate`, and an Aho-Corasick automaton (pyahocorasick) finds
every mark of the brand in one pass over the title, whatever the number of marks.

Short marks ("LV", "GG") would occur inside ordinary words once spaces are gone ("silver"), so marks
shorter than MIN_COMPACT letters are matched as whole words of the title's skeleton instead (a set lookup
per word), or letter by letter ("L V", "L.V."). Indicators are whole words too, looked for only in titles
that name a mark.
"""
import functools
import re
import unicodedata
from dataclasses import dataclass, field

import ahocorasick

MIN_COMPACT = 5  # marks (and indicators) at least this long are found with the separators removed
# Indicators made of digits, which the skeleton turns into letters ("1:1" would read "i i", as in "l i"):
# looked for in the raw title, and only once a mark was found.
RAW_INDICATORS = {"1:1": re.compile(r"(?<!\d)1\s*[:：/]\s*1(?!\d)")}
# Letters of other scripts that look like Latin ones (Cyrillic, Greek, Latin-like IPA and dotless i).
HOMOGLYPHS = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p", "с": "c",
    "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i", "ј": "j", "ԁ": "d", "ӏ": "l", "ո": "n",
    "ԛ": "q", "ԝ": "w", "ь": "b", "г": "r", "п": "n", "и": "u", "л": "n",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "ω": "w", "μ": "u", "γ": "y", "ς": "s", "σ": "o",
    "ı": "i", "ɡ": "g", "ɑ": "a", "ɩ": "i", "ʀ": "r", "ꞵ": "b", "ø": "o", "ß": "ss", "æ": "ae", "œ": "oe",
    "đ": "d", "ł": "l", "ħ": "h",
}
# Digits and signs standing in for letters.
LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "@": "a", "5": "s", "$": "s", "7": "t",
        "8": "b", "€": "e", "£": "l"}  # not ! | + : titles use them as separators ("LV | bag!!")
# Letters the screener does not tell apart, because disguises swap them freely.
CONFUSED = {"l": "i"}
TABLE_RANGES = ((0, 0x3000), (0xFF00, 0xFFF0))  # Latin, Greek, Cyrillic, symbols; fullwidth forms

# Words and phrases that signal counterfeit goods in a listing (lower case; matched as whole words of the
# title's spaced skeleton, and the longer ones also with separators removed).
INDICATORS = ("replica", "replicas", "aaa", "type a", "mirror quality", "mirror image",
              "super fake", "high copy", "top copy", "copy", "fake", "imitation", "knockoff", "knock off",
              "inspired", "dupe", "ua quality", "original quality", "same as original", "factory direct",
              "unbranded", "oem", "a grade", "grade aaa", "counterfeit", "高仿", "复刻", "精仿", "原单", "A货")


def _fold(character):
    """The skeleton of one character: '' when it is a separator, else one or more letters."""
    out = []
    for ch in unicodedata.normalize("NFKD", character.lower()):
        if unicodedata.combining(ch):
            continue  # accents
        ch = HOMOGLYPHS.get(ch, ch)
        ch = LEET.get(ch, ch)
        for c in ch:
            c = CONFUSED.get(c, c)
            if c.isalpha():
                out.append(c)
    return "".join(out)


@functools.cache
def tables():
    """(compact, spaced, latin) translation tables for every code point up to U+FFFF, built on first use
    (about a second), not at import. Unchanged characters map to themselves:
    `str.translate` raises and swallows a KeyError for every character missing from its table, which
    costs more than the lookup (a Chinese title is mostly such characters). `latin` keeps only folded
    Latin letters (look-alikes undone) and makes everything else a space, digits and CJK included: the
    words a short mark may be written as ("高仿LV包", "GG0061S")."""
    compact, spaced, latin = {}, {}, {}
    for codepoint in range(0x10000):
        character = chr(codepoint)
        if not any(start <= codepoint < stop for start, stop in TABLE_RANGES):
            compact[codepoint] = spaced[codepoint] = codepoint
            latin[codepoint] = " "
            continue
        folded = _fold(character)
        latin[codepoint] = " " if character.isdigit() or not folded.isascii() else (folded or " ")
        if folded == character:
            compact[codepoint] = spaced[codepoint] = codepoint
        else:
            compact[codepoint] = folded or None
            spaced[codepoint] = folded or " "
    return compact, spaced, latin



def skeleton(text):
    """`text` reduced to its letters, disguises undone: "L.0.u.i.s V u i t t o n" -> "iouisvuitton"."""
    return (text or "").translate(tables()[0])


def tokens_of(text):
    """The skeleton's words: "L.V. bag!!" -> ["i", "v", "bag"]."""
    return (text or "").translate(tables()[1]).split()


def is_cjk(text):
    return any(ord(ch) >= 0x2E80 for ch in text)


def wants_compact(key):
    """Long skeletons, and any with CJK characters (written without spaces), are found anywhere."""
    return len(key) >= MIN_COMPACT or is_cjk(key)


LATIN_RUN = re.compile(r"[a-z]+")
DIGIT = re.compile(r"\d")
LEET_TABLE = str.maketrans(LEET)
LATIN_LETTERS_ONLY = re.compile(r"[^a-z]+")


def latin_runs(title):
    """The title's words of Latin letters, where CJK characters, emoji or digits touch them too ("高仿LV包",
    "🔥LV🔥", "GG0061S" -> "gg"): one translation and one search, both in C."""
    if not title or (title.isascii() and not DIGIT.search(title)):
        return set()  # nothing to split there that the tokens did not: plain ASCII words
    return set(LATIN_RUN.findall(title.translate(tables()[2])))


def token_starts(tokens):
    """The offsets at which each token starts in the tokens joined without separators."""
    starts, offset = set(), 0
    for token in tokens:
        starts.add(offset)
        offset += len(token)
    return starts


def starts_a_word(key, end, starts):
    """Whether a long mark found ending at `end` of the joined tokens begins where a word of the title
    begins: "Apple" is not in "Pineapple", while "L o u i s" and "LouisVuittonBag" still name their mark.
    Marks in CJK script are written without spaces and are found anywhere."""
    return is_cjk(key) or (end - len(key) + 1) in starts


def spaced_skeleton(text):
    """The skeleton with every run of separators kept as one space, padded: " iv bag "."""
    return " " + " ".join(tokens_of(text)) + " "


@dataclass
class Hit:
    """One of the brand's marks found in a title."""

    word: str  # the mark as registered
    mark_ids: list  # every registration of that word (offices, classes)
    score: float  # 0..1: the mark alone 0.6, disguised +0.15, each indicator +0.1 (at most +0.3)
    disguised: bool  # not written plainly: found only once the disguise was undone
    indicators: list = field(default_factory=list)

    @property
    def reason(self):
        text = f"The title names the mark {self.word}"
        if self.disguised:
            text += " in disguise (spacing, punctuation, look-alike letters or digits)"
        if self.indicators:
            text += "; counterfeit indicators: " + ", ".join(self.indicators)
        return text + "."

    def as_dict(self):
        return {"word": self.word, "mark_ids": self.mark_ids, "score": self.score, "disguised": self.disguised,
                "indicators": self.indicators, "reason": self.reason}


class Screener:
    """The marks of one brand (or a sample of them), compiled once, then any number of titles screened."""

    def __init__(self, marks, indicators=INDICATORS):
        """`marks`: (id, word) pairs. Registrations of the same word are one pattern."""
        self.words = {}  # skeleton -> (word, [ids])
        for mark_id, word in marks:
            key = skeleton(word)
            if not key:
                continue
            entry = self.words.setdefault(key, (word, []))
            entry[1].append(mark_id)
        self.compact = ahocorasick.Automaton()  # long marks, long and CJK indicators, over the skeleton
        self.spaced = ahocorasick.Automaton()  # indicators as whole words, over the spaced skeleton
        # Short marks as the words they may be written as: "LV" -> "iv" (one word, a set lookup), and
        # ("i", "v") letter by letter ("L V", "L.V."); a two-word short mark is a tuple too.
        self.short_words, self.short_runs = {}, {}
        for key, (word, _) in self.words.items():
            if wants_compact(key):
                self.compact.add_word(key, ("mark", key))
                continue
            for form in {tuple(tokens_of(word)), (key,), tuple(key)}:
                if len(form) == 1:
                    self.short_words[form[0]] = key
                else:
                    self.short_runs[form] = key
        self.run_starts = {form[0] for form in self.short_runs}
        self.run_lengths = sorted({len(form) for form in self.short_runs})
        self.short = bool(self.short_words or self.short_runs)
        for indicator in indicators:
            key = skeleton(indicator)
            if is_cjk(key):
                if key not in self.compact:
                    self.compact.add_word(key, ("indicator", indicator))  # "高仿LV包": no spaces around it
                continue
            if spaced_skeleton(indicator) not in self.spaced:  # the first spelling names a shared skeleton
                self.spaced.add_word(spaced_skeleton(indicator), ("indicator", indicator))
            if len(key) > MIN_COMPACT and key not in self.compact:  # "r e p l i c a"
                self.compact.add_word(key, ("indicator", indicator))
        for automaton in (self.compact, self.spaced):
            if len(automaton):
                automaton.make_automaton()
        self.has_compact, self.has_spaced = len(self.compact) > 0, len(self.spaced) > 0

    def _short_marks(self, tokens, title=""):
        """Short marks written as whole words (or letter by letter) among the title's tokens. A word is also
        any run of Latin letters inside a token ("高仿LV包", "🔥LV🔥": CJK characters and emoji are not
        separators in the skeleton) or between digits of the raw title ("GG0061S", "MK5491": the skeleton
        would read the digits as letters)."""
        found = set()
        words = set(tokens) | latin_runs(title)
        if not self.short_words.keys().isdisjoint(words):
            found.update(self.short_words[word] for word in words if word in self.short_words)
        if self.short_runs and not self.run_starts.isdisjoint(tokens):
            for start, token in enumerate(tokens):
                if token not in self.run_starts:
                    continue
                for length in self.run_lengths:
                    key = self.short_runs.get(tuple(tokens[start:start + length]))
                    if key is not None:
                        found.add(key)
        return found

    def _found(self, title):
        tokens = tokens_of(title)
        marks, indicators = set(), []
        if self.has_compact:
            starts = None
            for end, (kind, value) in self.compact.iter("".join(tokens)):
                if kind == "mark":
                    if starts is None:
                        starts = token_starts(tokens)
                    if starts_a_word(value, end, starts):
                        marks.add(value)
                elif value not in indicators:
                    indicators.append(value)
        if self.short:
            marks |= self._short_marks(tokens, title)
        if marks and self.has_spaced:
            for _, (kind, value) in self.spaced.iter(" " + " ".join(tokens) + " "):
                if value not in indicators:
                    indicators.append(value)
        return marks, indicators

    def screen_title(self, title):
        """The brand's marks in `title`, each scored, best first; [] when none is there."""
        marks, indicators = self._found(title)
        if not marks:
            return []
        indicators += [name for name, pattern in RAW_INDICATORS.items() if pattern.search(title)]
        # "top copy" found says all that "copy" would: keep the longer phrase only.
        indicators = [i for i in indicators if not any(i != j and f" {i} " in f" {j} " for j in indicators)]
        plain = " ".join((title or "").lower().split())
        hits = []
        for key in marks:
            word, ids = self.words[key]
            if not indicators and self.only_confused(key, title):
                continue  # "Rocky IV": a short mark only the l/i confusion spells, and nothing counterfeit said
            disguised = " ".join(word.lower().split()) not in plain
            score = 0.6 + (0.15 if disguised else 0) + min(0.1 * len(indicators), 0.3)
            hits.append(Hit(word=word, mark_ids=sorted(ids), score=round(min(score, 1.0), 2), disguised=disguised,
                            indicators=list(indicators)))
        return sorted(hits, key=lambda hit: (-hit.score, hit.word))

    def only_confused(self, key, title):
        """Whether short mark `key` is in `title` only because the skeleton reads l and i as one letter
        ("IV" for LV): its own letters, leet undone, are not there. Such a hit needs an indicator."""
        if wants_compact(key):
            return False
        word = self.words[key][0].lower()
        if "l" not in word and "i" not in word:
            return False
        letters = LATIN_LETTERS_ONLY.sub("", (title or "").lower().translate(LEET_TABLE))
        return LATIN_LETTERS_ONLY.sub("", word) not in letters

    def count_hits(self, titles):
        """How many of `titles` name a mark, by the same rules as screen_title, without building hits (the
        benchmark's loop)."""
        found = 0
        compact, has_compact, short = self.compact, self.has_compact, self.short
        spaced_table = tables()[1]
        for title in titles:
            tokens = title.translate(spaced_table).split()
            if has_compact and self._long_mark_in(compact.iter("".join(tokens)), tokens):
                found += 1
                continue
            if short:
                keys = self._short_marks(tokens, title)
                if keys and (not all(self.only_confused(key, title) for key in keys) or self.screen_title(title)):
                    found += 1
        return found

    @staticmethod
    def _long_mark_in(matches, tokens):
        starts = None
        for end, (kind, value) in matches:
            if kind == "mark":
                starts = token_starts(tokens) if starts is None else starts
                if starts_a_word(value, end, starts):
                    return True
        return False
