# Read by gunicorn from the current directory (`gunicorn wsgi:app` in the project folder).
# Command-line options (as `make run` passes) override these.
import os

bind = f"127.0.0.1:{os.environ.get('PORT', '5000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
worker_class = "gthread"
threads = 8
accesslog = "-"
logger_class = "portal.gunicorn_logging.RedactingLogger"
control_socket_disable = True
