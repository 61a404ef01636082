"""Sending one event to a sink over HTTP, and the retry vocabulary of the dispatcher.

A sink's send either returns normally (delivered) or raises one of these errors; the
dispatcher turns them into the next state of the delivery.
"""

import email.utils
import http.client
import logging
import random
import time
from collections import namedtuple

import requests
import urllib3

_logger = logging.getLogger(__name__)

RESPONSE_CAP = 64 * 1024  # bytes of a response body that are read, at most
EXCERPT = 1000  # characters of it kept on the delivery
# seconds, for the connection and for each read. One number, not a (connect, read) pair:
# Odoo's test harness (BaseCase._request_handler) compares the timeout with ``< 10`` and fails
# with a TypeError on a tuple, which would make every delivery crash under tests.
TIMEOUT = 10


Request = namedtuple("Request", ["url", "body", "headers"])
Request.__doc__ = """A POST prepared by a sink (``_sink_prepare``): sent by the dispatcher with no
database work, ``body`` in bytes."""


class DeliveryError(Exception):
    """A failed attempt; ``status`` and ``excerpt`` describe the receiver's answer."""

    def __init__(self, message, *, status=0, excerpt=""):
        super().__init__(message)
        self.status = status
        self.excerpt = excerpt


class RetryableError(DeliveryError):
    """Try again later: after ``seconds`` when the receiver said so, else with backoff."""

    def __init__(self, message, *, seconds=None, **kwargs):
        super().__init__(message, **kwargs)
        self.seconds = seconds


class GoneError(DeliveryError):
    """The receiver is gone for good (HTTP 410): the sink is disabled."""


class PausingError(DeliveryError):
    """The receiver refuses this sink (authentication, missing permission): the sink is paused
    with the reason, and the delivery is held until the sink is resumed."""


def backoff(attempt, base=30, cap=6 * 3600):
    """Seconds before retry ``attempt`` (1-based): exponential, capped, with ±20 % jitter."""
    delay = min(base * 2 ** (attempt - 1), cap)
    return delay * random.uniform(0.8, 1.2)


def retry_after_seconds(value, now=None):
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(moment.timestamp() - (now or time.time()), 0)


def post(session, url, body, headers, *, timeout=TIMEOUT):
    """POST ``body``; returns (status, excerpt) on 2xx, raises a :class:`DeliveryError`."""
    headers = {"Accept-Encoding": "identity", **headers}
    try:
        response = session.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
        )
    except requests.Timeout:
        raise RetryableError("timeout") from None
    except requests.RequestException as exc:
        raise RetryableError(f"connection error: {exc.__class__.__name__}") from None
    with response:
        excerpt, oversized = _read_capped(response)
    status = response.status_code
    if 200 <= status < 300 and oversized:
        raise RetryableError(
            f"HTTP {status}: response larger than {RESPONSE_CAP} bytes",
            status=status,
            excerpt=excerpt,
        )
    if 200 <= status < 300:
        return status, excerpt
    if status == 410:
        raise GoneError("receiver answered 410 Gone", status=status, excerpt=excerpt)
    if status == 429 or status >= 500:
        seconds = retry_after_seconds(response.headers.get("Retry-After"))
        raise RetryableError(f"HTTP {status}", seconds=seconds, status=status, excerpt=excerpt)
    if 300 <= status < 400:
        message = f"HTTP {status}: redirects are not followed"
    else:
        message = f"HTTP {status}"
    raise RetryableError(message, status=status, excerpt=excerpt)


def _read_capped(response, budget=10):
    """At most RESPONSE_CAP bytes, for at most ``budget`` seconds (a trickling receiver).

    Returns the excerpt, and whether the body was larger than the cap (a failed attempt).
    Reads with ``read1`` (what has arrived, at most one socket read per call): ``read(n)`` and
    ``iter_content(n)`` wait until ``n`` bytes are there, which a receiver sending a byte now
    and then stretches to hours, whatever the budget.
    """
    raw = response.raw
    read1 = getattr(raw, "read1", None)  # urllib3 >= 2
    if read1 is None:  # urllib3 1.x: the http.client response (bodies are asked uncompressed)
        read1 = raw._fp.read1
    data = b""
    oversized = False
    deadline = time.monotonic() + budget
    try:
        while chunk := read1(8192):
            data += chunk
            if len(data) > RESPONSE_CAP:
                oversized = True
                break
            if time.monotonic() > deadline:
                break
    except (
        OSError,
        ValueError,
        http.client.HTTPException,
        requests.RequestException,
        urllib3.exceptions.HTTPError,
    ):
        _logger.debug("response body cut short", exc_info=True)  # keep what was read
    return data[: EXCERPT * 4].decode(errors="replace")[:EXCERPT], oversized
