"""Outbound URL checks against SSRF: scheme, port, and addresses the host name resolves to."""

import ipaddress
import socket
from urllib.parse import urlsplit

from .errors import field_error

# IPv6 prefixes that carry an IPv4 address in their low 32 bits (NAT64, SIIT, IPv4-compatible)
_EMBEDDING_LOW_32 = tuple(
    ipaddress.ip_network(net)
    for net in ("64:ff9b::/96", "64:ff9b:1::/48", "::ffff:0:0:0/96", "::ffff:0:0/96", "::/96")
)
_6TO4 = ipaddress.ip_network("2002::/16")


def embedded_ipv4(address):
    """The IPv4 addresses an IPv6 address stands for (mapped, compatible, NAT64, 6to4, Teredo)."""
    if address.version != 6:
        return []
    found = []
    if address.ipv4_mapped:
        found.append(address.ipv4_mapped)
    if address.teredo:
        found.extend(address.teredo)
    if address in _6TO4:
        found.append(ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF))
    if any(address in net for net in _EMBEDDING_LOW_32):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def is_public(address):
    """Whether ``address`` and every IPv4 address it embeds are global unicast addresses."""
    for candidate in (address, *embedded_ipv4(address)):
        if not candidate.is_global or candidate.is_multicast:
            return False
    return True


def check_url(url, *, allow_http=False, allow_private=False, field="url"):
    """Raise a 400 error unless ``url`` is an acceptable webhook target.

    Hosts resolving to loopback, private, link-local, multicast, reserved or unspecified
    addresses (also written inside an IPv6 address) are refused unless ``allow_private``
    (on-premise receivers, tests).
    """
    if not isinstance(url, str) or len(url) > 2048:
        raise field_error(field, "url must be a string of at most 2048 characters", None, "url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise field_error(field, "url is malformed (host or port)", url, "url") from None
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        raise field_error(field, f"url must use {' or '.join(schemes)}", url, "scheme")
    if not parts.hostname:
        raise field_error(field, "url has no host", url, "host")
    if parts.username or parts.password:
        raise field_error(field, "credentials in the url are not allowed", None, "url")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError):
        raise field_error(field, f"host {parts.hostname} does not resolve", url, "dns") from None
    for info in infos:
        if not is_public(ipaddress.ip_address(info[4][0].split("%")[0])):
            raise field_error(
                field, f"host {parts.hostname} resolves to a non-public address", url, "ssrf"
            )
