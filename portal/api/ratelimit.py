"""The per-client API rate limit (`API_RATE_LIMIT`, such as "600 per minute"), counted in Flask-Limiter's
storage (memory, or Redis with REDIS_URL, so every worker shares one count) by the `limits` strategy the
extension configured.

We count through the strategy directly rather than through Flask-Limiter's decorator: the decorator
resolves, filters and scopes its limits again at every request, which cost a fifth of a small API request
(`GET /api/v1/me`) for one counter increment. The answers are the same: a refused request is a 429
problem with `Retry-After` (seconds), and every answer carries `X-RateLimit-Limit`, `-Remaining` and
`-Reset` (epoch seconds) of the limit nearest to running out.
"""
import math
import time
from functools import lru_cache

from flask import abort, after_this_request, current_app
from limits import parse_many

from portal.errors import problem_response
from portal.extensions import limiter

SCOPE = "api"


@lru_cache(maxsize=8)
def _limits(text):
    return tuple(parse_many(text))


def count_request(client_id):
    """Count one request of the client against each limit; refuse it with a 429 once one is spent."""
    strategy = limiter.limiter
    tightest, refused = None, False
    for item in _limits(current_app.config["API_RATE_LIMIT"]):
        if not strategy.hit(item, SCOPE, client_id):
            tightest, refused = (item, strategy.get_window_stats(item, SCOPE, client_id)), True
            break
        stats = strategy.get_window_stats(item, SCOPE, client_id)
        if tightest is None or stats.remaining < tightest[1].remaining:
            tightest = (item, stats)
    if tightest is None:
        return
    item, stats = tightest
    headers = {"X-RateLimit-Limit": str(item.amount), "X-RateLimit-Remaining": str(max(stats.remaining, 0)),
               "X-RateLimit-Reset": str(int(stats.reset_time))}
    if refused:
        answer = problem_response(429, "Too Many Requests",
                                  f"This client may make {item} requests; wait before the next one.")
        answer.headers.update(headers)
        answer.headers["Retry-After"] = str(max(1, math.ceil(stats.reset_time - time.time())))
        abort(answer)

    @after_this_request
    def add_headers(response):
        response.headers.update(headers)
        return response
