"""Where an import by URL may go: the URL's spelling, the hosts of IMPORT_URL_HOSTS, and public addresses only.

Pure (no Django): the fetcher (originals/fetch.py) asks these questions of the client's URL and again of every
redirect, and of every address a host name resolves to, before it connects.
"""

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from .fetch_errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443}
ANY_PORT = -1

# RFC 3986's characters that may stand unencoded in a path and a query; "%" keeps the client's own escapes.
_PATH_SAFE = "/%!$&'()*+,;=:@-._~"
_QUERY_SAFE = _PATH_SAFE + "?"
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
# A last label that is a number (decimal, octal or 0x-hex) makes the whole host an IPv4 address to a browser or
# to inet_aton: 2130706433, 0x7f.1, 0177.0.0.1 and 127.1 all reach 127.0.0.1. Only a.b.c.d in decimal is taken.
_NUMERIC_LABEL = re.compile(r"(?:[0-9]+|0x[0-9a-f]*)")
_PATTERN = re.compile(r"(?P<host>\*|(?:\*\.)?[a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{1,5}|\*))?")

# Named apart for the message: the addresses a cloud's instances ask for their credentials. The range checks
# below refuse them anyway (link-local, unique local, shared address space).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # 64:ff9b::a00:1 is 10.0.0.1 through a NAT64 gateway
SHARED_ADDRESS_SPACE = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT


@dataclass(frozen=True)
class Target:
    """One URL the fetcher may ask for: checked, normalised, and spelled as it will be sent."""

    scheme: str
    host: str  # lower case, without a trailing dot; an IPv6 address without brackets
    port: int
    target: str  # the request target: path and query, percent-encoded
    address: IPAddress | None  # the host, when it is an IP address

    @property
    def default_port(self) -> int:
        return DEFAULT_PORTS[self.scheme]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if isinstance(self.address, ipaddress.IPv6Address) else self.host
        return host if self.port == self.default_port else f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.target}"

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@dataclass(frozen=True)
class HostPattern:
    """One entry of IMPORT_URL_HOSTS: `images.example.com`, `*.example.com` (its subdomains, not itself) or `*`
    (any host), each with `:port`, `:*` (any port) or nothing (the scheme's own port: 80 or 443)."""

    host: str
    port: int | None

    def matches(self, target: Target) -> bool:
        if self.port is None and target.port != target.default_port:
            return False
        if self.port is not None and self.port not in (ANY_PORT, target.port):
            return False
        if self.host == "*":
            return True
        if self.host.startswith("*."):
            return target.host.endswith(self.host[1:])
        return target.host == self.host


def parse_host_pattern(raw: str) -> HostPattern:
    """An IMPORT_URL_HOSTS entry; ValueError saying what is wrong with it."""
    text = raw.strip().lower()
    match = _PATTERN.fullmatch(text)
    if match is None:
        raise ValueError(f"{raw!r} is not a host, *.domain or *, with an optional :port or :*")
    host, port = match["host"], match["port"]
    if host.startswith("["):
        host = str(ipaddress.IPv6Address(host[1:-1]))
    host = host.rstrip(".") if host != "*" else host
    if port is None:
        return HostPattern(host, None)
    if port == "*":
        return HostPattern(host, ANY_PORT)
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"{raw!r} names port {port}; ports are 1 to 65535")
    return HostPattern(host, int(port))


def _invalid(message: str) -> FetchError:
    return FetchError(message, code="url_invalid", status=400)


def _host(netloc: str) -> tuple[str, IPAddress | None, str]:
    """(host, its address when it is one, what follows it: ":port" or "") of a URL's authority."""
    if netloc.startswith("["):
        inside, bracket, rest = netloc[1:].partition("]")
        if not bracket or "%" in inside:
            raise _invalid("The URL's IPv6 address is malformed (write it as [2001:db8::1], without a zone).")
        try:
            address = ipaddress.IPv6Address(inside)
        except ValueError as exc:
            raise _invalid(f"The URL's IPv6 address is malformed: {exc}.") from exc
        return str(address), address, rest
    host, colon, port = netloc.partition(":")
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host.isascii():
        raise _invalid("Write the URL's host name in ASCII, as its xn-- (punycode) form.")
    labels = host.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        try:
            return host, ipaddress.IPv4Address(host), colon + port
        except ValueError:
            raise _invalid("Write an IPv4 address in the URL as four decimal numbers (a.b.c.d).") from None
    if len(host) > 253 or not _HOST_NAME.fullmatch(host):
        raise _invalid(f"The URL's host {host[:60]!r} is not a valid host name.")
    return host, None, colon + port


def _port(rest: str, scheme: str) -> int:
    if rest in ("", ":"):
        return DEFAULT_PORTS[scheme]
    digits = rest[1:]
    if not (rest.startswith(":") and digits.isascii() and digits.isdigit() and len(digits) <= 5):
        raise _invalid("The URL's port must be a number from 1 to 65535.")
    if not 1 <= int(digits) <= 65535:
        raise _invalid(f"The URL's port {digits} is not from 1 to 65535.")
    return int(digits)


def parse_target(raw: str) -> Target:
    """A URL the fetcher may ask for, or FetchError (url_invalid, url_scheme): absolute http or https, no user
    name or password, a host name or an IP address in its plain spelling, a port from 1 to 65535."""
    if len(raw) > MAX_URL_LENGTH:
        raise _invalid(f"The URL is {len(raw):,} characters long; the limit is {MAX_URL_LENGTH:,}.")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw) or raw != raw.strip():
        raise _invalid("The URL contains control characters, or spaces at its start or end.")
    try:
        parts = urlsplit(raw)
    except ValueError as exc:
        raise _invalid(f"The URL is malformed: {exc}.") from exc
    scheme = parts.scheme.lower()
    if scheme and scheme not in DEFAULT_PORTS:
        raise FetchError(
            f"Only http and https URLs can be imported, not {scheme[:20]}:.", code="url_scheme", status=400
        )
    if not scheme or not raw[len(scheme) :].startswith("://"):
        raise _invalid("Give an absolute URL, e.g. https://images.example.com/photo.jpg.")
    if "@" in parts.netloc:
        raise _invalid("The URL must not carry a user name or password (user:password@host).")
    if not parts.netloc:
        raise _invalid("The URL has no host.")
    host, address, rest = _host(parts.netloc)
    port = _port(rest, scheme)
    target = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        target += "?" + quote(parts.query, safe=_QUERY_SAFE)
    return Target(scheme, host, port, target, address)


def check_allowed(target: Target, patterns: tuple[HostPattern, ...]) -> None:
    """FetchError (403 url_host_not_allowed) unless an IMPORT_URL_HOSTS entry takes the URL's host and port."""
    if any(pattern.matches(target) for pattern in patterns):
        return
    raise FetchError(
        f"{target.host_header} is not a host this server imports from (IMPORT_URL_HOSTS).",
        code="url_host_not_allowed",
        status=403,
    )


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96), 6to4."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def forbidden_kind(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """What kind of address this is when an import may not connect to it ("private", "loopback"…), else None.
    Only globally routable unicast addresses pass; an IPv6 address carrying an IPv4 one is judged as that one."""
    inner = embedded_ipv4(address)
    if inner is not None:
        return forbidden_kind(inner, allow_loopback=allow_loopback)
    if address in METADATA_ADDRESSES:
        return "cloud metadata"
    if address.is_loopback:
        return None if allow_loopback else "loopback"
    for kind, found in (
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("carrier-grade NAT", address in SHARED_ADDRESS_SPACE),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    ):
        if found:
            return kind
    if not address.is_global:
        return "non-public"
    return None


def check_address(target: Target, address: IPAddress, *, allow_loopback: bool) -> None:
    kind = forbidden_kind(address, allow_loopback=allow_loopback)
    if kind is None:
        return
    named = "is" if target.address is not None else f"resolves to {address}, which is"
    raise FetchError(
        f"{target.host} {named} a {kind} address; only public addresses can be imported from.",
        code="url_address_forbidden",
        status=403,
    )
