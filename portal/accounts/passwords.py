"""Password hashing (argon2id) and the password policy, in one place for pages, CLI and invitations."""
import os

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import RFC_9106_LOW_MEMORY

MIN_LENGTH = 12
MAX_LENGTH = 128


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


def password_problems(password):
    """Messages for a password that breaks the policy; empty when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return [f"Use at least {MIN_LENGTH} characters."]
    if len(password) > MAX_LENGTH:
        return [f"Use at most {MAX_LENGTH} characters."]
    if not password.strip():
        return ["A password cannot be only spaces."]
    return []
