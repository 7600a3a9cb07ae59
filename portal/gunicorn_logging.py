"""Gunicorn access log without secrets: invitation links carry their token in the path."""
import re

from gunicorn.glogging import Logger

SECRET_IN_PATH = re.compile(r"(/invite/)[^\s/?\"]+")


def redact(text):
    return SECRET_IN_PATH.sub(r"\1[redacted]", text) if isinstance(text, str) else text


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        return {key: redact(value) for key, value in super().atoms(resp, req, environ, request_time).items()}
