"""Password hashing (argon2id) and the password policy, in one place for pages, CLI, invitations and demo.

The policy (`password_problems`), checked wherever a password is set:
- 12 to 128 characters, not only spaces;
- not the account's email address name (the part before @, or a piece of it, when 4 characters or more);
- not a common password: the 30,000 most frequent passwords of leaked password sets, as bundled with the
  `zxcvbn` package (pinned in requirements.txt; the list its strength estimator uses, from the Xato corpus),
  compared without case, and also with digits or symbols stuck on either end ("password1234",
  "iloveyou!!!!") or with the usual look-alike substitutions ("p@ssw0rd");
- not one character repeated, nor a shorter password repeated to reach the length ("qwertyqwerty");
- not made of keyboard, alphabet or number sequences ("123456789012", "abcdefghijkl", "qwertyuiopas",
  "1qaz2wsx3edc").
Long passphrases of ordinary words ("correct horse battery staple") pass: length is what protects them.
"""
import functools
import os
import re

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

MIN_LENGTH = 12
MAX_LENGTH = 128

TOO_SHORT = f"Use at least {MIN_LENGTH} characters."
TOO_LONG = f"Use at most {MAX_LENGTH} characters."
ONLY_SPACES = "A password cannot be only spaces."
CONTAINS_EMAIL = ("This password contains your email address's name (the part before @), the first thing an "
                  "attacker tries. Choose one that does not.")
COMMON = ("This is one of the most common passwords (it appears in lists of leaked passwords). "
          "Choose another: a phrase of several unrelated words is easy to remember.")
COMMON_PADDED = ("This is a common password with digits, symbols or look-alike characters added, which "
                 "attackers try first. Choose something less predictable: a phrase of several unrelated words.")
ONE_CHARACTER = "This password is one character repeated. Choose something less predictable."
REPEATED = ("This password repeats a shorter one to reach the length. Choose something less predictable: "
            "a phrase of several unrelated words.")
SEQUENCE = ("This password is made of keyboard, alphabet or number sequences (like qwerty, abcdef or 123456), "
            "which attackers try first. Choose something less predictable.")

# Orderings whose neighbours make a "sequence": alphabet, digits (0 follows 9 as on the keyboard), and the
# rows and columns of a QWERTY keyboard, shifted or not.
SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "01234567890", "`1234567890-=", "~!@#$%^&*()_+",
             "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./", "1qaz", "2wsx", "3edc", "4rfv", "5tgb", "6yhn",
             "7ujm", "8ik,", "9ol.", "0p;/", "!qaz", "@wsx", "#edc", "$rfv", "%tgb", "^yhn", "&ujm", "*ik,",
             "(ol.", ")p;/", "789456123", "147258369")  # columns with Shift on their first key too ("!qaz2wsx")
# A password made of this many runs of neighbouring (or equal) characters, or fewer, is a sequence.
MAX_SEQUENCE_RUNS = 3
# Look-alike substitutions ("l33t speak"); "1" is tried as both "i" and "l".
LOOK_ALIKES = (str.maketrans("@4083$5!71+9", "aaobessiitlg"), str.maketrans("@4083$5!71+9", "aaobessiltlg"))
MIN_COMMON_CORE = 4  # a shorter common password ("abc") inside a longer one is not worth refusing
EMAIL_PIECES = re.compile(r"[._+\-]+")
WORD_SEPARATORS = re.compile(r"[\W_]+")


def _make_hasher():
    """argon2id with RFC 9106's low-memory profile (64 MiB, 3 passes).

    PASSWORD_HASHING=test selects a cheap argon2id (1 MiB, 1 pass) so the test suite can create hundreds
    of users quickly; never set it in production.
    """
    if os.environ.get("PASSWORD_HASHING", "standard") == "test":
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1, type=Type.ID)
    return PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)


_hasher = _make_hasher()

# Verified against when the email is unknown, so a wrong email costs the same time as a wrong password
# and response timing does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not a real password, only here to spend the same time")


def hash_password(password):
    return _hasher.hash(password)


def verify_password(password_hash, password):
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash):
    return _hasher.check_needs_rehash(password_hash)


def spend_verification_time(password):
    verify_password(None, password)


# --- the policy ----------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def common_passwords():
    """The leaked-password frequency list bundled with zxcvbn 4.5.0 (30,000 entries, lower case), loaded once."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    listed = FREQUENCY_LISTS["passwords"]
    return frozenset(listed.split(",") if isinstance(listed, str) else listed)


@functools.lru_cache(maxsize=1)
def _moves():
    """{(left, right): the moves that lead from left to right}: (ordering, +1 or -1) for neighbours."""
    moves = {}
    for number, ordering in enumerate(SEQUENCES):
        for left, right in zip(ordering, ordering[1:]):
            moves.setdefault((left, right), set()).add((number, 1))
            moves.setdefault((right, left), set()).add((number, -1))
    return {pair: frozenset(found) for pair, found in moves.items()}


SAME = frozenset({"same"})


def sequence_runs(text):
    """How many runs `text` is made of, a run being one character repeated or a walk in one direction
    along one ordering: "qwerty123" is 2 runs, "aaabbb" 2, "123456789012" 1 ("0" follows "9")."""
    moves, runs, current = _moves(), 1, None  # current: the moves every step of this run so far shares
    for left, right in zip(text, text[1:]):
        step = SAME if left == right else moves.get((left, right), frozenset())
        shared = step if current is None else current & step
        if shared:
            current = shared
        else:
            runs, current = runs + 1, None
    return runs


def _strip_ends(text, keep):
    start, end = 0, len(text)
    while start < end and not keep(text[start]):
        start += 1
    while end > start and not keep(text[end - 1]):
        end -= 1
    return text[start:end]


def _cores(lowered):
    """The password without the digits or symbols stuck on its ends, with look-alikes read as letters."""
    cores = {_strip_ends(lowered, str.isalpha), _strip_ends(lowered, str.isalnum)}
    for table in LOOK_ALIKES:
        cores.add(_strip_ends(_strip_ends(lowered, str.isalpha).translate(table), str.isalpha))
        cores.add(_strip_ends(lowered.translate(table), str.isalpha))
    return {core for core in cores if len(core) >= MIN_COMMON_CORE and core != lowered}


def _email_names(email):
    local, at, _domain = (email or "").strip().lower().rpartition("@")
    if not at:
        return set()
    names = {local} | set(EMAIL_PIECES.split(local))
    return {name for name in names if len(name) >= 4}


def _is_repetition(text):
    """A shorter string repeated ("abcabcabcabc"), its unit shorter than the minimum length."""
    size = len(text)
    units = range(1, min(size // 2, MIN_LENGTH - 1) + 1)
    return any(size % unit == 0 and text[:unit] * (size // unit) == text for unit in units)


def password_problems(password, email=None):
    """Messages for a password that breaks the policy; empty when it is acceptable.

    `email` is the account's address (pass it wherever it is known): a password containing its name is
    refused. At most one message comes back, the most specific one.
    """
    if len(password) < MIN_LENGTH:
        return [TOO_SHORT]
    if len(password) > MAX_LENGTH:
        return [TOO_LONG]
    if not password.strip():
        return [ONLY_SPACES]
    lowered = password.lower()
    if any(name in lowered for name in _email_names(email)):
        return [CONTAINS_EMAIL]
    if len(set(lowered)) == 1:
        return [ONE_CHARACTER]
    common = common_passwords()
    if lowered in common:
        return [COMMON]
    if any(core in common for core in _cores(lowered)):
        return [COMMON_PADDED]
    if _is_repetition(lowered) or _is_repetition(WORD_SEPARATORS.sub("", lowered)):
        return [REPEATED]
    if sequence_runs(lowered) <= MAX_SEQUENCE_RUNS:
        return [SEQUENCE]
    return []
