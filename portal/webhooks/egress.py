"""Webhook egress: the one way the worker connects to an endpoint, so that an org admin's URL cannot
steer it into the portal's own network.

An endpoint URL is attacker-chosen text, and the check used to read it with one parser (urlsplit) while
requests/urllib3 fetched it with another: a backslash ends urllib3's authority but not urlsplit's
("https://127.0.0.1:22\\@hooks.example/"), urllib3 decodes a percent-encoded host ("%31%32%37.0.0.1")
that urlsplit leaves alone, and the name was resolved once for the check and again for the connection.
So, by construction:

1. **One reading of the URL** (`target`). It is parsed by urllib.parse.urlsplit *and* by urllib3's
   `parse_url` (the parser requests uses), and refused unless both read the same scheme, host and port
   and no credentials. What parsers are known to read differently is refused before that, whatever they
   would agree on: a backslash anywhere, whitespace or control characters, `%` or userinfo (`user@`) in
   the authority, an empty host, a port outside 1-65535, a trailing dot on the host, IPv4 in anything but
   four decimal numbers (`127.1`, `0x7f.1`, `2130706433`, `0177.0.0.1`), IPv6 zone ids, a `#fragment`.
   The host must then be an IP literal or dot-separated labels of `a-z 0-9 - _`.
2. **IDNA**: a non-ASCII host is converted to its A-label form (`xn--...`) by IDNA 2008 as urllib3 does
   it (`idna.encode(host.lower(), strict=True, std3_rules=True)`, no UTS 46 mapping), and the URL is
   stored in that form; a name that is not valid IDNA 2008 is refused. So fullwidth and other
   look-alike spellings that UTS 46 would map onto ASCII (`ｌｏｃａｌｈｏｓｔ`, `bücher。example`) are
   refused, and what is resolved, checked, sent as SNI and as Host is the same ASCII name.
   (`idna` is requests' own dependency.)
3. **One lookup, every address checked** (`resolve`, `is_public`). The host is resolved once per
   attempt; a name that does not resolve is a failed attempt, never a pass. Every address it resolves
   to must be public: not private, loopback, link-local, CGNAT (100.64/10), benchmarking (198.18/15),
   documentation, multicast, reserved, unspecified or broadcast (ipaddress' is_global alone is not
   enough: it calls multicast, 6to4 and ::/96 global; see BLOCKED). IPv4-mapped (::ffff:0:0/96),
   IPv4-compatible (::/96), local-use NAT64 (64:ff9b:1::/48) and Teredo (2001::/32) addresses are
   refused whole; a NAT64 (64:ff9b::/96, DNS64) or 6to4 (2002::/16) address is judged by the IPv4
   address it carries too. One bad address refuses the whole name.
4. **The connection goes to the checked address** (`PinnedAdapter`; the first address the lookup gave,
   no other is tried): the urllib3 pool is opened on the IP itself, while TLS sends the name as SNI and verifies the certificate against the name
   (`server_hostname` / `assert_hostname`), and the Host header is the name. No second DNS lookup can
   answer differently (DNS rebinding).
5. **Nothing steers the request after that**: redirects are never followed (a 3xx is a failed attempt
   with its status); proxy variables (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY), REQUESTS_CA_BUNDLE
   and `.netrc` are ignored (`trust_env = False`); certificates are checked against requests' CA bundle.
6. **Refusals say the same whatever the port**, and are made before any socket is opened, so the
   delivery log cannot tell open ports from closed ones on an address it refuses.

Local receivers (`local_ok`, which services passes as WEBHOOKS_ALLOW_HTTP or "the app is testing"):
loopback addresses (127.0.0.0/8, ::1, ::ffff:127.x) and the names `localhost` / `*.localhost` are then
allowed, over http or https; nothing else private ever is, and http is refused to anything else.
Registration does no DNS lookup (it runs in a request): it checks the URL and IP literals; names are
checked at every attempt.
"""
import ipaddress
import re
import socket
from contextlib import contextmanager
from typing import NamedTuple
from urllib.parse import urlsplit

import idna
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

MAX_URL_LENGTH = 2000
DEFAULT_PORTS = {"https": 443, "http": 80}
LABELS = re.compile(r"[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*")
NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")  # a last label like this makes resolvers read IPv4
LOOPBACK_V4 = ipaddress.ip_address("127.0.0.1")

# Refused even where ipaddress calls them global (it does for multicast, 6to4, ::/96 and others).
BLOCKED = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/96", "::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
    "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8")]
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

ABSOLUTE = "Enter an absolute https:// URL."
PRIVATE = "Use a public address: private, loopback and link-local addresses are refused."
HTTPS = "Use https: event payloads must not travel in clear text."
NOT_SENT_NAME = "Not sent: the host name resolves to a private address."
NOT_SENT_ADDRESS = "Not sent: the address is not a public one."
NOT_SENT_HTTP = "Not sent: http is only for a local receiver (WEBHOOKS_ALLOW_HTTP)."
NOT_SENT_UNRESOLVABLE = "Not sent: the host name does not resolve."


class Refused(Exception):
    """An endpoint the worker must not contact. `advice` is for the admin's form; `log` is what the
    delivery log records (never naming the port or the address, so it reveals nothing about them)."""

    def __init__(self, advice, log=None):
        super().__init__(advice)
        self.advice = advice
        self.log = log or f"Not sent: the URL is refused. {advice}"


class Target(NamedTuple):
    scheme: str
    host: str        # ASCII, lowercase, without brackets
    port: int | None  # as written in the URL
    literal: object   # the ipaddress when the host is an IP literal, else None
    url: str          # the URL as stored and sent

    @property
    def connect_port(self):
        return self.port or DEFAULT_PORTS[self.scheme]

    @property
    def host_header(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.connect_port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.connect_port}"


# --- reading the URL -------------------------------------------------------------------------------------

def target(url):
    """The URL read once, the same way by both parsers, or Refused."""
    url = url or ""
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise Refused("A URL cannot contain spaces or control characters.")
    if "\\" in url:
        raise Refused("A URL cannot contain a backslash.")
    if len(url) > MAX_URL_LENGTH:
        raise Refused(ABSOLUTE)
    if "#" in url:
        raise Refused("A webhook URL may not have a #fragment.")
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port  # both raise ValueError on a malformed authority
    except ValueError as error:
        raise Refused("Use a port between 1 and 65535." if "Port" in str(error) else ABSOLUTE)
    if parts.scheme.lower() not in DEFAULT_PORTS or not hostname:
        raise Refused(ABSOLUTE)
    if "@" in parts.netloc:
        raise Refused("Leave credentials out of the URL; deliveries are signed instead.")
    if "%" in parts.netloc:
        raise Refused("Write the host name without %-escapes.")
    if port is not None and not 0 < port < 65536:
        raise Refused("Use a port between 1 and 65535.")
    host, literal = _host(hostname)
    _agree(url, parts.scheme.lower(), host, port)
    netloc = (f"[{host}]" if ":" in host else host) + ("" if port is None else f":{port}")
    normalized = f"{parts.scheme.lower()}://{netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")
    _agree(normalized, parts.scheme.lower(), host, port)
    return Target(parts.scheme.lower(), host, port, literal, normalized)


def _host(hostname):
    """(ASCII host, IP literal or None) for urlsplit's (lowercased) hostname, or Refused."""
    if ":" in hostname:
        try:
            return hostname, ipaddress.IPv6Address(hostname)
        except ValueError:
            raise Refused(ABSOLUTE)
    if hostname.endswith("."):
        raise Refused("Leave out the dot at the end of the host name.")
    if not hostname.isascii():
        try:
            hostname = idna.encode(hostname.lower(), strict=True, std3_rules=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            raise Refused("The host name is not a valid internationalized domain name (IDNA 2008).")
    if not LABELS.fullmatch(hostname) or len(hostname) > 253:
        raise Refused("The host name may only have letters, digits, - and _ between dots.")
    if NUMERIC_LABEL.fullmatch(hostname.rsplit(".", 1)[-1]):
        try:
            address = ipaddress.IPv4Address(hostname)
        except ValueError:
            address = None
        if address is None or str(address) != hostname:
            raise Refused("Write an IP address as four decimal numbers (short, octal and hex forms are refused).")
        return hostname, address
    return hostname, None


def _agree(url, scheme, host, port):
    """Refuse unless urllib3 (what requests connects with) reads the same scheme, host, port and no
    credentials as urlsplit did."""
    try:
        theirs = parse_url(url)
    except LocationParseError:
        raise Refused(ABSOLUTE)
    if (theirs.scheme, (theirs.host or "").strip("[]"), theirs.port, theirs.auth) != (scheme, host, port, None):
        raise Refused("This URL is read differently by different parsers; write it plainly.")


# --- addresses ------------------------------------------------------------------------------------------

def embedded_ipv4(address):
    """The IPv4 addresses an IPv6 address carries, which a translator or a tunnel may deliver to."""
    if address.version == 4:
        return []
    found = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
    if address in NAT64 or address in IPV4_COMPATIBLE:
        found.append(ipaddress.IPv4Address(address.packed[-4:]))
    return [a for a in found if a is not None]


def is_public(address):
    """Globally routable, and so is every IPv4 address it carries. A NAT64 address (64:ff9b::/96, how
    DNS64 hands IPv6-only hosts a public IPv4 one) is judged by the IPv4 address it translates to alone:
    ipaddress calls the whole prefix reserved."""
    if address.version == 6 and address in NAT64:
        return _plainly_public(ipaddress.IPv4Address(address.packed[-4:]))
    return all(_plainly_public(a) for a in (address, *embedded_ipv4(address)))


def _plainly_public(address):
    flags = (address.is_private, address.is_loopback, address.is_link_local, address.is_multicast,
             address.is_reserved, address.is_unspecified, getattr(address, "is_site_local", False))
    return address.is_global and not any(flags) and not any(address in net for net in BLOCKED
                                                           if net.version == address.version)


def is_loopback(address):
    return address.is_loopback or bool(address.version == 6 and address.ipv4_mapped
                                       and address.ipv4_mapped.is_loopback)


def is_local_name(host):
    """Names that are this machine by definition (RFC 6761), known without a lookup."""
    return host == "localhost" or host.endswith(".localhost")


def resolve(where):
    """The addresses the target's host stands for, from exactly one lookup (none for an IP literal)."""
    if where.literal is not None:
        return [where.literal]
    try:
        found = socket.getaddrinfo(where.host, where.connect_port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        found = []
    addresses = []
    for family, _, _, _, sockaddr in found:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = ipaddress.ip_address(sockaddr[0].split("%")[0])
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise Refused("The host name does not resolve.", log=NOT_SENT_UNRESOLVABLE)
    return addresses


def vet(where, addresses, local_ok=False):
    """Refused unless every address may be contacted, and http goes only to a local receiver."""
    for address in addresses:
        if not is_public(address) and not (local_ok and is_loopback(address)):
            raise Refused(PRIVATE, log=NOT_SENT_ADDRESS if where.literal is not None else NOT_SENT_NAME)
    if where.scheme == "http" and not (local_ok and addresses and all(map(is_loopback, addresses))):
        raise Refused(HTTPS, log=NOT_SENT_HTTP)


def check_registration(url, local_ok=False):
    """The URL to store for a new endpoint, or Refused. No DNS lookup (this runs during a request): IP
    literals and `localhost` names are checked now; other names at each attempt."""
    where = target((url or "").strip())
    known = [where.literal] if where.literal is not None else [LOOPBACK_V4] if is_local_name(where.host) else []
    vet(where, known, local_ok)
    return where.url


# --- connecting -----------------------------------------------------------------------------------------

class PinnedAdapter(HTTPAdapter):
    """A transport that connects only to `address`, for requests to `host` only: the urllib3 pool is
    opened on the IP, while TLS verifies the certificate against the name it sends as SNI, and the Host
    header is the name. `send` is requests' own (so `responses` still stands in for it in tests)."""

    def __init__(self, where, address):
        self.where, self.address = where, address
        super().__init__(pool_connections=1, pool_maxsize=1, max_retries=0)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if (host_params["host"] or "").strip("[]").lower() != self.where.host:
            raise requests.exceptions.InvalidURL(f"not the pinned host {self.where.host}", request=request)
        host_params["host"] = str(self.address)
        if host_params["scheme"] == "https" and self.where.literal is None:
            pool_kwargs.update(server_hostname=self.where.host, assert_hostname=self.where.host)
        return host_params, pool_kwargs

    def add_headers(self, request, **kwargs):
        request.headers["Host"] = self.where.host_header


def session_for(where, address):
    """A requests session that goes nowhere but `address`: no proxies, no .netrc (redirects are refused
    by `post`: allow_redirects=False; max_redirects=0 would turn a 3xx into an exception, losing its status)."""
    session = requests.Session()
    session.trust_env = False  # no proxy variables, REQUESTS_CA_BUNDLE or .netrc
    adapter = PinnedAdapter(where, address)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@contextmanager
def post(url, data, headers, timeout, local_ok=False):
    """POST to the endpoint at `url` (streamed; redirects not followed), after checking the URL and
    every address its host resolves to. Raises Refused before any connection; requests' errors after."""
    where = target(url)
    addresses = resolve(where)
    vet(where, addresses, local_ok)
    with session_for(where, addresses[0]) as session:
        with session.post(where.url, data=data, headers=headers, timeout=timeout, allow_redirects=False,
                          stream=True, proxies={}) as response:
            yield response
