"""A real SMTP server on loopback (aiosmtpd) for the notification e-mail tests, and the portal pointed at it."""
import datetime
import ipaddress
import socket
import ssl
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """The server's handler: keeps every message it accepts; `refuse` holds answers to give instead, in turn."""

    def __init__(self):
        self.messages, self.refuse, self.logins = [], [], []

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse.pop(0)
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 2.0.0 Accepted"

    def bodies(self):
        return [m.get_body(("plain",)).get_content() for m in self.messages]


class SmtpServer:
    def __init__(self, mailbox, port, controller):
        self.mailbox, self.port, self.controller = mailbox, port, controller


def start(mailbox, **options):
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return SmtpServer(mailbox, port, controller)


SETTINGS = {"SMTP_HOST": "127.0.0.1", "SMTP_STARTTLS": False, "SMTP_SSL": False, "SMTP_USERNAME": None,
            "SMTP_PASSWORD": None, "SMTP_CA_FILE": None, "SMTP_FROM": "Alliance Portal <portal@alliance.example>",
            "EMAIL_MAX_ATTEMPTS": 3, "EMAIL_RETRY_BASE_SECONDS": 60, "SMTP_TIMEOUT_SECONDS": 5,
            "PORTAL_BASE_URL": "https://portal.alliance.example", "NOTIFICATION_DIGEST_HOUR": 8}


def point_the_portal_at(app, monkeypatch, server, **more):
    for name, value in dict(SETTINGS, SMTP_PORT=server.port, **more).items():
        monkeypatch.setitem(app.config, name, value)


@pytest.fixture
def smtp_server(app, monkeypatch):
    """A plain SMTP server on loopback, and the portal's e-mail settings pointing at it."""
    server = start(Mailbox())
    point_the_portal_at(app, monkeypatch, server)
    yield server
    server.controller.stop()


def self_signed(tmp_path):
    """A certificate for 127.0.0.1 and its key, made here (cryptography): the test's own CA file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "smtp-cert.pem", tmp_path / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_smtp_server(app, monkeypatch, tmp_path):
    """An SMTP server that requires STARTTLS and then AUTH (user `portal`, password `s3cret-pass`)."""
    cert_path, key_path = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert_path), str(key_path))
    mailbox = Mailbox()

    def authenticator(server, session, envelope, mechanism, auth_data):
        mailbox.logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=(auth_data.login, auth_data.password) == (b"portal", b"s3cret-pass"))

    server = start(mailbox, tls_context=context, require_starttls=True, auth_required=True,
                   authenticator=authenticator)
    point_the_portal_at(app, monkeypatch, server, SMTP_STARTTLS=True, SMTP_CA_FILE=str(cert_path),
                        SMTP_USERNAME="portal", SMTP_PASSWORD="s3cret-pass")
    yield server
    server.controller.stop()
