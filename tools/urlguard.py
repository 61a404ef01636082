"""Outbound URL checks against SSRF: scheme, and addresses the host name resolves to."""

import ipaddress
import socket
from urllib.parse import urlsplit

from .errors import field_error


def check_url(url, *, allow_http=False, allow_private=False, field="url"):
    """Raise a 400 error unless ``url`` is an acceptable webhook target.

    Hosts resolving to loopback, private, link-local, multicast, reserved or unspecified
    addresses are refused unless ``allow_private`` (on-premise receivers, tests).
    """
    if not isinstance(url, str) or len(url) > 2048:
        raise field_error(field, "url must be a string of at most 2048 characters", None, "url")
    parts = urlsplit(url)
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
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise field_error(field, f"host {parts.hostname} does not resolve", url, "dns") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            raise field_error(
                field, f"host {parts.hostname} resolves to a non-public address", url, "ssrf"
            )
