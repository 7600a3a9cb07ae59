"""Webhook egress cannot be steered (SSRF): the worker connects only to the public address it checked.

The defect: the URL was checked with urlsplit but fetched by requests/urllib3, which read some URLs
differently (a backslash ends urllib3's authority, urllib3 decodes a percent-encoded host); the name was
resolved for the check and again for the connection (DNS rebinding); an unresolvable name passed as
"not private"; ipaddress' is_global let multicast, 6to4 and IPv4-compatible forms of loopback through;
proxy variables and .netrc were honoured; and the log told open ports from closed ones.

Two witnesses here: a real TCP listener of our own on loopback (IPv4 and IPv6) that records whatever
connects to it, and a spy on `socket.socket.connect` that records (and refuses) every connection the
process attempts. Most tests run "in production": TESTING and WEBHOOKS_ALLOW_HTTP off, because tests
otherwise allow local receivers (loopback), as documented. Names are made to resolve by monkeypatching
`socket.getaddrinfo`, the resolver the egress module calls."""
import datetime
import ipaddress
import select
import socket
import ssl
import threading

import pytest
import requests
import responses

from portal.audit import acting_as
from portal.errors import ValidationError
from portal.webhooks import egress, services
from portal.webhooks.models import Webhook, WebhookAttempt, WebhookDelivery
from tests.webhooks.test_webhooks import BRAND_URL, PUBLIC_STAND_IN, hook, run_worker, setup  # noqa: F401

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


# --- witnesses ----------------------------------------------------------------------------------------------

class Listener:
    """A TCP server on 127.0.0.1 and ::1 (same port) that records every connection and the request it
    got, and answers `answer`; with `tls` (an SSLContext) it speaks TLS and records the SNI names."""

    def __init__(self, answer=OK, tls=None):
        self.answer, self.tls = answer, tls
        self.connections, self.requests, self.sni = [], [], []
        v4 = socket.create_server(("127.0.0.1", 0))
        self.port = v4.getsockname()[1]
        self.sockets = [v4]
        try:
            v6 = socket.socket(socket.AF_INET6)
            v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            v6.bind(("::1", self.port))
            v6.listen()
            self.sockets.append(v6)
        except OSError:
            pass
        if tls is not None:
            tls.sni_callback = lambda sslobj, name, context: self.sni.append(name)
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            ready, _, _ = select.select(self.sockets, [], [], 0.05)
            for server in ready:
                conn, peer = server.accept()
                self.connections.append(peer)
                try:
                    self._answer(conn)
                except (OSError, ssl.SSLError):
                    pass
                finally:
                    conn.close()

    def _answer(self, conn):
        conn.settimeout(3)
        if self.tls is None:
            return self._exchange(conn)
        with self.tls.wrap_socket(conn, server_side=True) as wrapped:
            self._exchange(wrapped)

    def _exchange(self, conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        while len(body) < int(headers.get("content-length", 0)):
            body += conn.recv(65536)
        self.requests.append((lines[0], headers, body))
        conn.sendall(self.answer)

    def close(self):
        self.running = False
        self.thread.join(2)
        for server in self.sockets:
            server.close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.fixture
def closed_port():
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


REAL_CONNECT = socket.socket.connect


@pytest.fixture
def spy(monkeypatch):
    """Every outbound connect the process attempts while installed: recorded, and refused (so nothing
    here ever reaches a real network)."""
    attempts = []

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(address[:2])
            raise ConnectionRefusedError(111, "refused by the test's connect spy")
        return REAL_CONNECT(sock, address)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


@pytest.fixture
def production(setup, monkeypatch):
    """The app as deployed: no local receivers (tests otherwise allow loopback, as documented)."""
    monkeypatch.setitem(setup.app.config, "TESTING", False)
    monkeypatch.setitem(setup.app.config, "WEBHOOKS_ALLOW_HTTP", False)
    return setup


class Names:
    """socket.getaddrinfo for our own names (the resolver egress calls), counting the lookups; a value
    may be a list of address lists, one per successive lookup (DNS rebinding)."""

    def __init__(self, monkeypatch, table):
        self.table, self.lookups = table, []
        self.real = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", self)

    def __call__(self, host, port, *args, **kwargs):
        if host not in self.table:
            return self.real(host, port, *args, **kwargs)
        self.lookups.append(host)
        answer = self.table[host]
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if answer and isinstance(answer[0], list):
            answer = answer[min(len(self.lookups_of(host)), len(answer)) - 1]
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port, 0, 0) if ":" in a else (a, port)) for a in answer]

    def lookups_of(self, host):
        return [h for h in self.lookups if h == host]


RESOLVED = {
    "loopback.egress.test": ["127.0.0.1"],
    "loopback6.egress.test": ["::1"],
    "metadata.egress.test": ["169.254.169.254"],
    "private.egress.test": ["10.0.0.5"],
    "mixed.egress.test": [PUBLIC_STAND_IN, "10.0.0.5"],
    "mapped.egress.test": ["::ffff:127.0.0.1"],
    "nat64.egress.test": ["64:ff9b::a9fe:a9fe"],
    "unresolvable.egress.test": None,
}


def endpoint_at(setup, url):
    """An endpoint whose stored URL is `url`, whatever registration says of it today (one registered
    before the fix, or written by other means): delivery must refuse it on its own."""
    webhook, _ = hook(setup.app, setup.brand, BRAND_URL, ["sla.breached"])
    Webhook.update(url=url).where(Webhook.id == webhook.id).execute()
    return webhook


def attempt_delivery(setup, url):
    """One attempt of one event to an endpoint at `url`; its logged attempt."""
    WebhookDelivery.delete().execute()
    Webhook.delete().execute()
    endpoint_at(setup, url)
    with setup.app.app_context(), acting_as("test"):
        services.enqueue("sla.breached", setup.brand, None, {"test": True})
    run_worker(setup.app)
    return WebhookAttempt.select().order_by(WebhookAttempt.id.desc()).get()


# --- every form of a private address: never connected to, refused in the log, whatever the port ---------

FORMS = [
    "https://127.0.0.1:{port}/in", "https://127.1:{port}/in", "https://0x7f.1:{port}/in",
    "https://2130706433:{port}/in", "https://0177.0.0.1:{port}/in", "https://0.0.0.0:{port}/in",
    "https://127.0.0.1.:{port}/in", "https://[::1]:{port}/in", "https://[::]:{port}/in",
    "https://[::ffff:127.0.0.1]:{port}/in", "https://[::ffff:7f00:1]:{port}/in", "https://[::127.0.0.1]:{port}/in",
    "https://[64:ff9b::7f00:1]:{port}/in", "https://[64:ff9b:1::7f00:1]:{port}/in",
    "https://[2002:7f00:1::]:{port}/in", "https://[2002:a00:5::]:{port}/in",
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]:{port}/in",  # Teredo, client 127.0.0.1
    "https://10.0.0.5:{port}/in", "https://10.255.255.254:{port}/in", "https://172.16.0.1:{port}/in",
    "https://172.31.255.254:{port}/in", "https://192.168.1.1:{port}/in", "https://169.254.169.254:{port}/in",
    "https://100.64.0.1:{port}/in", "https://198.18.0.1:{port}/in", "https://192.0.0.8:{port}/in",
    "https://224.0.0.1:{port}/in", "https://240.0.0.1:{port}/in", "https://255.255.255.255:{port}/in",
    "https://[fe80::1]:{port}/in", "https://[fc00::1]:{port}/in", "https://[fd12:3456::1]:{port}/in",
    "https://[ff02::1]:{port}/in", "https://[fec0::1]:{port}/in", "https://[100::1]:{port}/in",
    "https://localhost:{port}/in", "https://LOCALHOST:{port}/in", "https://localhost.:{port}/in",
    "https://api.localhost:{port}/in", "https://ｌｏｃａｌｈｏｓｔ:{port}/in",
    "http://%31%32%37.0.0.1:{port}/in", "https://%6c%6f%63%61%6c%68%6f%73%74:{port}/in",
    "https://127.0.0.1:{port}\\@hooks.microsoft.example/in", "https://hooks.microsoft.example\\@127.0.0.1:{port}/in",
    "https://hooks.microsoft.example@127.0.0.1:{port}/in", "https://user:pw@127.0.0.1:{port}/in",
    "https://[fe80::1%25lo]:{port}/in",
    "https://loopback.egress.test:{port}/in", "https://LOOPBACK.egress.test:{port}/in",
    "https://loopback6.egress.test:{port}/in", "https://metadata.egress.test:{port}/in",
    "https://private.egress.test:{port}/in", "https://mixed.egress.test:{port}/in",
    "https://mapped.egress.test:{port}/in", "https://nat64.egress.test:{port}/in",
    "https://unresolvable.egress.test:{port}/in",
    "http://hooks.microsoft.example:{port}/in",  # http to a public name: refused in production
]


@pytest.mark.parametrize("form", FORMS)
def test_no_form_of_a_private_address_is_connected_to_and_the_log_cannot_scan_ports(
        production, listener, closed_port, spy, monkeypatch, form):
    """Open port and closed port: nothing connects (neither our listener nor anything else), each attempt
    is logged as not sent, with the same words for both ports."""
    Names(monkeypatch, RESOLVED)
    logged = []
    for port in (listener.port, closed_port):
        attempt = attempt_delivery(production, form.format(port=port))
        logged.append((attempt.status_code, attempt.error))
    assert listener.connections == [], f"{form}: the worker connected to our listener"
    assert spy == [], f"{form}: the worker connected to {spy}"
    assert logged[0] == logged[1], f"{form}: the log tells the ports apart: {logged}"
    assert logged[0][0] is None and logged[0][1].startswith("Not sent:"), logged[0]
    assert str(listener.port) not in logged[0][1] and str(closed_port) not in logged[0][1]
    assert WebhookDelivery.get().status != "delivered"


def test_an_unresolvable_name_is_a_failed_delivery_saying_so(production, spy, monkeypatch):
    Names(monkeypatch, RESOLVED)
    attempt = attempt_delivery(production, "https://unresolvable.egress.test/in")
    assert attempt.error == "Not sent: the host name does not resolve."
    assert spy == []


def test_a_name_resolving_to_one_public_and_one_private_address_is_refused_whole(production, spy, monkeypatch):
    Names(monkeypatch, RESOLVED)
    attempt = attempt_delivery(production, "https://mixed.egress.test/in")
    assert attempt.error == "Not sent: the host name resolves to a private address."
    assert spy == []


# --- one lookup, and the connection goes to the checked address ----------------------------------------------

def test_dns_rebinding_gets_one_lookup_and_the_connection_goes_to_the_checked_address(
        production, listener, spy, monkeypatch):
    """First answer public, every later one loopback. Old code looked the name up for its check and
    requests looked it up again to connect (to our listener)."""
    names = Names(monkeypatch, {"rebind.egress.test": [[PUBLIC_STAND_IN], ["127.0.0.1"]]})
    attempt = attempt_delivery(production, f"https://rebind.egress.test:{listener.port}/in")
    assert names.lookups_of("rebind.egress.test") == ["rebind.egress.test"]  # exactly one lookup
    assert spy == [(PUBLIC_STAND_IN, listener.port)]  # the checked address, and only it
    assert listener.connections == []
    assert attempt.error.startswith("Connection failed")


# --- nothing else steers the request ------------------------------------------------------------------------

def test_a_redirect_to_loopback_is_recorded_and_not_followed(production, listener):
    """A public-looking endpoint answering 302 to our listener: one request, the 302 logged, nothing more."""
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, BRAND_URL, status=302, headers={"Location": f"http://127.0.0.1:{listener.port}/"})
        attempt = attempt_delivery(production, BRAND_URL)
        assert len(rsps.calls) == 1
    assert attempt.status_code == 302 and "redirects are not followed" in attempt.error
    assert listener.connections == []


def test_a_real_redirect_between_local_receivers_is_not_followed(setup):
    """The same against real sockets (tests allow local receivers): the second listener gets nothing."""
    second = Listener()
    first = Listener(answer=(f"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{second.port}/\r\n"
                             "Content-Length: 0\r\nConnection: close\r\n\r\n").encode())
    try:
        attempt = attempt_delivery(setup, f"http://127.0.0.1:{first.port}/in")
    finally:
        first.close()
        second.close()
    assert len(first.requests) == 1 and second.connections == []
    assert attempt.status_code == 307 and "not followed" in attempt.error


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                                      "all_proxy"])
def test_proxy_variables_are_ignored_in_production(production, listener, spy, monkeypatch, variable):
    """A proxy variable pointing at our listener: it receives nothing; the worker connects to the
    endpoint's own (checked) address."""
    monkeypatch.setenv(variable, f"http://127.0.0.1:{listener.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    attempt_delivery(production, "https://hooks.microsoft.example/in")
    assert listener.connections == []
    assert spy == [(PUBLIC_STAND_IN, 443)]


def test_proxy_variables_and_netrc_do_not_touch_a_real_delivery(setup, listener, tmp_path, monkeypatch):
    """Against a real local receiver: the proxy listener gets nothing, the receiver gets the POST directly,
    without the Authorization header a .netrc entry for its host would add."""
    proxy = Listener()
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login portal password leaked\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(variable, f"http://127.0.0.1:{proxy.port}")
    monkeypatch.setenv("NO_PROXY", "")
    try:
        attempt = attempt_delivery(setup, f"http://127.0.0.1:{listener.port}/in")
    finally:
        proxy.close()
    assert proxy.connections == []
    assert attempt.status_code == 200 and len(listener.requests) == 1
    request_line, headers, _ = listener.requests[0]
    assert request_line == "POST /in HTTP/1.1"
    assert "authorization" not in headers and "proxy-authorization" not in headers


# --- registration refuses the same forms, and what the parsers would read differently ------------------------

REFUSED_AT_REGISTRATION = [
    ("https://127.0.0.1/in", "public address"), ("https://127.1/in", "four decimal numbers"),
    ("https://0x7f.1/in", "four decimal numbers"), ("https://2130706433/in", "four decimal numbers"),
    ("https://0177.0.0.1/in", "four decimal numbers"), ("https://0.0.0.0/in", "public address"),
    ("https://[::1]/in", "public address"), ("https://[::ffff:127.0.0.1]/in", "public address"),
    ("https://[::127.0.0.1]/in", "public address"), ("https://[64:ff9b::7f00:1]/in", "public address"),
    ("https://[2002:7f00:1::]/in", "public address"), ("https://224.0.0.1/in", "public address"),
    ("https://[ff02::1]/in", "public address"), ("https://100.64.0.1/in", "public address"),
    ("https://169.254.169.254/in", "public address"), ("https://localhost/in", "public address"),
    ("https://LocalHost/in", "public address"), ("https://x.localhost/in", "public address"),
    ("http://%31%32%37.0.0.1/in", "%-escapes"), ("https://hooks%2eexample/in", "%-escapes"),
    ("https://hooks.microsoft.example\\@127.0.0.1/in", "backslash"),
    ("https://127.0.0.1:22\\@hooks.microsoft.example/in", "backslash"),
    ("https://hooks.microsoft.example/a\\b", "backslash"),
    ("https://hooks.microsoft.example@127.0.0.1/in", "credentials"), ("https://a:b@hooks.example/", "credentials"),
    ("https://hooks.microsoft.example./in", "dot at the end"), ("https://ｌｏｃａｌｈｏｓｔ/in", "IDNA 2008"),
    ("https://bücher。example/in", "IDNA 2008"), ("https://hooks.example:0/in", "between 1 and 65535"),
    ("https://hooks.example:65536/in", "between 1 and 65535"), ("https://hooks.example:+443/in", "between 1"),
    ("https:///in", "absolute https"), ("https://:443/in", "absolute https"),
    ("https://hooks.example/in\x00", "control characters"), ("https://hooks .example/", "spaces"),
    ("https://hooks.ex!ample/", "letters, digits"), ("https://[fe80::1%25eth0]/", "%-escapes"),
    ("http://hooks.microsoft.example/in", "Use https"), ("gopher://hooks.example/", "absolute https"),
]


@pytest.mark.parametrize("url, words", REFUSED_AT_REGISTRATION)
def test_registration_refuses_private_literals_and_urls_parsers_read_differently(production, url, words):
    with production.app.app_context():
        with pytest.raises(ValidationError) as refused:
            services.clean_url(url)
    assert words in refused.value.errors["url"][0], (url, refused.value.errors)


def test_registration_stores_the_one_reading_uppercase_lowered_and_idna_as_a_labels(production):
    with production.app.app_context():
        assert services.clean_url("HTTPS://Hooks.Microsoft.EXAMPLE:8443/In?X=1") == \
            "https://hooks.microsoft.example:8443/In?X=1"
        assert services.clean_url("https://bücher.example/in") == "https://xn--bcher-kva.example/in"
        assert services.clean_url("https://xn--bcher-kva.example/in") == "https://xn--bcher-kva.example/in"
        assert services.clean_url("https://[2606:4700::1111]/in") == "https://[2606:4700::1111]/in"


def test_local_receivers_are_loopback_only_and_only_when_allowed(setup, monkeypatch):
    """Tests (and WEBHOOKS_ALLOW_HTTP) allow http and https to this machine's loopback; never another
    private address, and never http elsewhere."""
    with setup.app.app_context():
        for url in ("http://127.0.0.1:8080/in", "http://localhost:8080/in", "https://[::1]:8443/in",
                    "http://127.0.0.2/in"):
            assert services.clean_url(url) == url
        for url in ("http://10.0.0.5/in", "https://192.168.1.1/in", "http://hooks.microsoft.example/in"):
            with pytest.raises(ValidationError):
                services.clean_url(url)
    monkeypatch.setitem(setup.app.config, "TESTING", False)
    monkeypatch.setitem(setup.app.config, "WEBHOOKS_ALLOW_HTTP", True)  # a developer's local receiver
    with setup.app.app_context():
        assert services.clean_url("http://localhost:8080/in") == "http://localhost:8080/in"
        with pytest.raises(ValidationError):
            services.clean_url("https://169.254.169.254/in")


# --- the address checks themselves ---------------------------------------------------------------------------

@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.215.14", "2606:4700::1111", "2a00:1450:4001::200e",
                                     "64:ff9b::808:808", "2002:808:808::1"])
def test_public_addresses_pass(address):
    assert egress.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.255.255.254", "0.0.0.0", "0.1.2.3", "10.0.0.1", "172.16.0.1", "192.168.0.1", "169.254.169.254",
    "100.64.0.1", "100.127.255.254", "192.0.0.1", "192.0.2.1", "192.88.99.1", "198.18.0.1", "198.51.100.1",
    "203.0.113.1", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
    "::", "::1", "::ffff:127.0.0.1", "::ffff:8.8.8.8", "::127.0.0.1", "::ffff:0:a00:1", "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe", "64:ff9b:1::808:808", "2002:7f00:1::", "2002:a9fe:a9fe::", "2001::1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe", "2001:db8::1", "3fff::1", "5f00::1", "100::1", "fc00::1",
    "fd00::1", "fe80::1", "fec0::1", "ff02::1", "ff0e::1"])
def test_every_non_public_address_form_is_refused(address):
    assert not egress.is_public(ipaddress.ip_address(address))


# --- a delivery to an allowed address arrives, to the checked address, with the right Host and SNI ----------

def test_a_local_delivery_arrives_with_its_host_header(setup, listener):
    attempt = attempt_delivery(setup, f"http://localhost:{listener.port}/in?x=1")
    assert attempt.status_code == 200 and WebhookDelivery.get().status == "delivered"
    request_line, headers, body = listener.requests[0]
    assert request_line == "POST /in?x=1 HTTP/1.1"
    assert headers["host"] == f"localhost:{listener.port}"
    assert body == WebhookDelivery.get().payload.encode()


def _certificates(tmp_path, name):
    """A CA (its PEM file is the trust bundle) and a server context with a leaf for `name` it signed."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    now = datetime.datetime.now(datetime.timezone.utc)

    def build(subject, issuer, key, signer, ca, san=None):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "egress test CA")])
    ca = build(ca_name, ca_name, ca_key, ca_key, True)
    leaf = build(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), ca_name, leaf_key, ca_key, False, name)
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "leaf.key").write_bytes(leaf_key.private_bytes(serialization.Encoding.PEM,
                                                               serialization.PrivateFormat.PKCS8,
                                                               serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "leaf.key")
    return str(tmp_path / "ca.pem"), server


@pytest.fixture
def tls_names(setup, monkeypatch):
    """hooks.egress.test resolves to loopback (allowed: tests allow local receivers); requests' CA bundle
    is the test CA (the worker ignores REQUESTS_CA_BUNDLE, as it ignores the environment)."""
    return Names(monkeypatch, {"hooks.egress.test": ["127.0.0.1"]})


def test_a_tls_delivery_goes_to_the_pinned_address_with_sni_host_and_certificate_of_the_name(
        setup, tls_names, tmp_path, monkeypatch):
    bundle, context = _certificates(tmp_path, "hooks.egress.test")
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", bundle)
    server = Listener(tls=context)
    try:
        attempt = attempt_delivery(setup, f"https://hooks.egress.test:{server.port}/in")
    finally:
        server.close()
    assert (attempt.status_code, attempt.error) == (200, "")
    assert server.sni == ["hooks.egress.test"]
    assert server.requests[0][1]["host"] == f"hooks.egress.test:{server.port}"
    assert tls_names.lookups_of("hooks.egress.test") == ["hooks.egress.test"]  # one lookup, none by urllib3


def test_the_certificate_is_checked_against_the_name_not_the_address(setup, tls_names, tmp_path, monkeypatch):
    bundle, context = _certificates(tmp_path, "someone-else.egress.test")
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", bundle)
    server = Listener(tls=context)
    try:
        attempt = attempt_delivery(setup, f"https://hooks.egress.test:{server.port}/in")
    finally:
        server.close()
    assert attempt.status_code is None and "Connection failed" in attempt.error
    assert server.requests == [] and WebhookDelivery.get().status != "delivered"


def test_the_adapter_opens_its_pool_on_the_ip_and_keeps_the_name_for_tls():
    where = egress.target("https://hooks.egress.test:8443/in")
    adapter = egress.PinnedAdapter(where, ipaddress.ip_address("203.0.113.7"))
    prepared = requests.Request("POST", where.url, data=b"{}").prepare()
    host_params, pool_kwargs = adapter.build_connection_pool_key_attributes(prepared, True)
    assert (host_params["host"], host_params["port"], host_params["scheme"]) == ("203.0.113.7", 8443, "https")
    assert pool_kwargs["server_hostname"] == pool_kwargs["assert_hostname"] == "hooks.egress.test"
    pool = adapter.get_connection_with_tls_context(prepared, True, proxies={})
    assert (pool.host, pool.conn_kw["server_hostname"], pool.assert_hostname) == \
        ("203.0.113.7", "hooks.egress.test", "hooks.egress.test")
    adapter.add_headers(prepared)
    assert prepared.headers["Host"] == "hooks.egress.test:8443"
    other = requests.Request("POST", "https://elsewhere.example/in").prepare()
    with pytest.raises(requests.exceptions.InvalidURL):
        adapter.build_connection_pool_key_attributes(other, True)
