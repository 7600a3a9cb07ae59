"""Flask extensions, created once and bound to the app in the factory."""
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"
# Sessions are server-side rows with their own idle and absolute limits; Flask-Login's IP/agent hashing
# would sign out users whose mobile address changes, for no extra safety.
login_manager.session_protection = None

# Flask-Limiter gives the counters' storage (memory, or Redis with REDIS_URL) and its strategy: the sign-in
# throttle (portal.accounts.throttle) and the API's per-client limit (portal.api.ratelimit) count through
# `limiter.limiter`. No route declares a decorator limit and there are no default limits.
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def init_limiter(app):
    """Bind the limiter's storage to the app without its per-request hooks: with no decorator or default
    limit they only re-resolve empty limits, at every request (pages and API alike)."""
    limiter.init_app(app)
    app.before_request_funcs[None] = [f for f in app.before_request_funcs.get(None, [])
                                      if f != limiter._check_request_limit]
    app.after_request_funcs[None] = [f for f in app.after_request_funcs.get(None, [])
                                     if getattr(f, "args", ()) != (limiter,)]
