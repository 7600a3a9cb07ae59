"""Secrets the portal must read back (webhook signing secrets, two-factor TOTP keys), encrypted at rest.

Fernet (AES-128-CBC with HMAC-SHA256, timestamped) under a key derived from SECRET_KEY with HKDF-SHA256,
one key per purpose (the `info` label), so a secret of one kind never decrypts as another. A database
copy alone reveals none of them; changing SECRET_KEY makes them all unreadable (SecretUnreadable), which
each caller turns into its own advice (rotate the webhook secret, reset the two-factor authentication).
"""
import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


class SecretUnreadable(Exception):
    """The stored secret was encrypted under another SECRET_KEY (or for another purpose), or has expired."""


class SecretBox:
    """Encrypts and decrypts text for one purpose, e.g. SecretBox(b"alliance-portal webhook secrets")."""

    def __init__(self, purpose):
        self.purpose = purpose

    def _fernet(self):
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=self.purpose).derive(current_app.config["SECRET_KEY"].encode())
        return Fernet(base64.urlsafe_b64encode(key))

    def encrypt(self, text):
        return self._fernet().encrypt(text.encode()).decode()

    def decrypt(self, token, ttl=None):
        """The text; SecretUnreadable when it cannot be read, or was encrypted more than `ttl` seconds ago."""
        try:
            return self._fernet().decrypt((token or "").encode(), ttl=ttl).decode()
        except (InvalidToken, ValueError, TypeError):
            raise SecretUnreadable("The secret cannot be read (SECRET_KEY changed?).")
