"""Sign-in throttling on Flask-Limiter's storage (memory, or Redis when REDIS_URL is set).

Every attempt is counted *before* the password is checked, with an atomic increment, so a burst of
parallel guesses cannot slip past the limit while the first ones are still being verified. Two counters:
per account (keyed by the normalised email, so other spellings of one address share it) and per client
address. A successful sign-in clears its account's counter; the address counter only expires. Codes of
two-factor authentication (the second step of signing in, and the account page's forms that ask for one)
have an account counter of their own and count against the address too.

The trade-off, stated: anyone who knows an email can hold that account's sign-in off for the window
(5 minutes by default) with a few wrong guesses. It is logged on `portal.security`, and the password is
never at risk.
"""
from flask import current_app
from flask_limiter.util import get_remote_address
from limits import parse

from portal.accounts.services import normalize_email
from portal.errors import ValidationError
from portal.extensions import limiter


def account_key(email):
    try:
        email = normalize_email(email)
    except ValidationError:
        email = (email or "").strip().lower()
    return f"sign-in/account/{email}"


def address_key():
    return f"sign-in/address/{get_remote_address()}"


def _limits(email):
    config = current_app.config
    return [(parse(config["LOGIN_ATTEMPTS_PER_ACCOUNT"]), account_key(email)),
            (parse(config["LOGIN_ATTEMPTS_PER_ADDRESS"]), address_key())]


def count_attempt(email):
    """Record one sign-in attempt; False when the account or the address is over its limit."""
    results = [limiter.limiter.hit(item, key) for item, key in _limits(email)]
    return all(results)


def forget_account_failures(email):
    item, key = _limits(email)[0]
    limiter.limiter.clear(item, key)


# Two-factor codes: a counter per account of its own, cleared only by a right code. (Were it the password's
# counter, a right password would clear it and allow five more code guesses each time.) Each code attempt
# also counts against the address, like a password attempt.

def two_factor_key(user):
    return f"two-factor/account/{user.id}"


def count_two_factor_attempt(user):
    """Record one attempt at a two-factor code; False when the account or the address is over its limit."""
    config = current_app.config
    results = [limiter.limiter.hit(parse(config["LOGIN_ATTEMPTS_PER_ACCOUNT"]), two_factor_key(user)),
               limiter.limiter.hit(parse(config["LOGIN_ATTEMPTS_PER_ADDRESS"]), address_key())]
    return all(results)


def forget_two_factor_failures(user):
    limiter.limiter.clear(parse(current_app.config["LOGIN_ATTEMPTS_PER_ACCOUNT"]), two_factor_key(user))
