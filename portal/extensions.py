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

# No default limits: only the routes that need throttling (sign-in) declare one.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
