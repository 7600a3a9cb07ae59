"""Titles per second screening listing titles against a brand's marks (portal.intel.screening), against a
naive per-mark substring loop over a sample in the same run, and the peak memory.

    .venv/bin/python bench/screen_listings.py [--titles 1000000] [--marks 10000] [--sample 2000] [--seed 7]

Generates N marks (pronounceable words of 4-14 letters, a fifth of them two words, a few short ones such as
"QX") and M titles: marketplace-like words in English and Chinese, a tenth of them naming one of the marks,
most of those disguised the ways counterfeiters write them (spacing, punctuation, leetspeak, Cyrillic
look-alikes, fullwidth forms, accents), and counterfeit indicators sprinkled over all titles. Then:

1. the screener: build its automata for the N marks (timed apart), then count the titles naming a mark
   (`Screener.count_hits`: the skeleton of each title, one Aho-Corasick pass, no objects per title) on one
   core, over all M titles;
2. the full path on a 100,000-title slice: `screen_title` with scores, reasons and indicators;
3. the naive baseline on the first S titles: the same skeletons, then `mark in title` for every mark.

Before any figure is printed the results are checked: on the sample, the screener and the naive loop
find the same titles (compact marks; the naive loop has no whole-word rule, so short marks are left out
of that comparison), and every generated title known to carry a mark is found. Target (issue 6): at least
100,000 titles per second on one core. Exits non-zero only for wrong results.
"""
import argparse
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from portal.intel.screening import MIN_COMPACT, Screener, skeleton  # noqa: E402

CONSONANTS = "bcdfghjkmnprstvwxz"
VOWELS = "aeiouy"
WORDS = ("women", "men", "bag", "leather", "handbag", "wallet", "watch", "crystal", "necklace", "shoes", "new",
         "2026", "free", "shipping", "original", "genuine", "sale", "hot", "gift", "box", "luxury", "classic",
         "size", "black", "brown", "gold", "silver", "vintage", "limited", "edition", "controller", "wireless",
         "正品", "包邮", "新款", "女包", "男士", "手表", "钱包", "项链", "水晶", "限量")
INDICATOR_WORDS = ("replica", "1:1", "AAA", "mirror quality", "super fake", "high copy", "高仿", "Type A")
CYRILLIC = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "i": "і"}
LEET = {"o": "0", "i": "1", "e": "3", "a": "4", "s": "5", "t": "7"}


def make_word(rng, low=4, high=14):
    length = rng.randint(low, high)
    letters = []
    while len(letters) < length:
        letters.append(rng.choice(CONSONANTS))
        letters.append(rng.choice(VOWELS))
    return "".join(letters[:length])


def make_marks(rng, count):
    marks, seen = [], set()
    while len(marks) < count:
        roll = rng.random()
        if roll < 0.02:
            word = "".join(rng.choice("BCDFGHJKLMNPQRSTVWXZ") for _ in range(2))  # short marks: "QX"
        elif roll < 0.22:
            word = f"{make_word(rng, 3, 8)} {make_word(rng, 3, 8)}".upper()
        else:
            word = make_word(rng).upper()
        if skeleton(word) in seen:
            continue
        seen.add(skeleton(word))
        marks.append((len(marks) + 1, word))
    return marks


def disguise(rng, word):
    style = rng.randrange(7)
    lower = word.lower()
    if style == 0:
        return word
    if style == 1:
        return " ".join(word)  # spacing
    if style == 2:
        return ".".join(word)  # punctuation
    if style == 3:
        return "".join(LEET.get(ch, ch) if rng.random() < 0.5 else ch for ch in lower)
    if style == 4:
        return "".join(CYRILLIC.get(ch, ch) for ch in lower)
    if style == 5:
        return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in word)  # fullwidth
    return "".join({"a": "á", "e": "é", "o": "ö", "u": "ü", "i": "í"}.get(ch, ch) for ch in word)


def make_titles(rng, marks, count):
    titles, carriers = [], []
    long_marks = [word for _, word in marks if len(skeleton(word)) >= MIN_COMPACT]
    for n in range(count):
        words = rng.sample(WORDS, rng.randint(3, 8))
        if rng.random() < 0.15:
            words.insert(rng.randrange(len(words) + 1), rng.choice(INDICATOR_WORDS))
        if rng.random() < 0.10:
            words.insert(rng.randrange(len(words) + 1), disguise(rng, rng.choice(long_marks)))
            carriers.append(n)
        titles.append(" ".join(words))
    return titles, carriers


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=1_000_000)
    parser.add_argument("--marks", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    marks = make_marks(rng, args.marks)
    titles, carriers = make_titles(rng, marks, args.titles)
    rss_data = peak_rss_mb()

    started = time.perf_counter()
    screener = Screener(marks)
    build_seconds = time.perf_counter() - started

    started = time.perf_counter()
    found = screener.count_hits(titles)
    screen_seconds = time.perf_counter() - started

    full = titles[:100_000]
    started = time.perf_counter()
    full_hits = [screener.screen_title(title) for title in full]
    full_seconds = time.perf_counter() - started

    sample = titles[:args.sample]
    compact_keys = [key for key in screener.words if len(key) >= MIN_COMPACT]
    started = time.perf_counter()
    naive = []
    for title in sample:
        text = skeleton(title)  # once per title: the baseline is the per-mark loop, not the folding
        naive.append(any(key in text for key in compact_keys))
    naive_seconds = time.perf_counter() - started

    # Results first: a fast wrong answer is no figure.
    fast = [bool(screener.screen_title(title)) for title in sample]
    wrong = [n for n, (a, b) in enumerate(zip(fast, naive)) if b and not a]
    missed = [n for n in carriers if n < len(full) and not full_hits[n]]
    if wrong or missed:
        print(f"WRONG: {len(wrong)} sample titles the naive loop finds but the screener does not "
              f"(first {wrong[:5]}); {len(missed)} generated carriers missed (first {missed[:5]})")
        return 1

    rate = len(titles) / screen_seconds
    naive_rate = len(sample) / naive_seconds
    print(f"marks: {len(marks):,} ({len(screener.words):,} distinct skeletons); automata built in "
          f"{build_seconds:.2f} s")
    print(f"screener: {len(titles):,} titles in {screen_seconds:.2f} s = {rate:,.0f} titles/s on one core; "
          f"{found:,} name a mark ({len(carriers):,} generated with one)")
    print(f"full path (scores, reasons): {len(full):,} titles in {full_seconds:.2f} s = "
          f"{len(full) / full_seconds:,.0f} titles/s")
    print(f"naive per-mark loop: {len(sample):,} titles in {naive_seconds:.2f} s = {naive_rate:,.0f} titles/s")
    print(f"ratio screener / naive: {rate / naive_rate:,.0f}x")
    print(f"peak RSS: {peak_rss_mb():.0f} MB (of which the generated titles: {rss_data:.0f} MB)")
    print(f"target >= 100,000 titles/s: {'met' if rate >= 100_000 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
