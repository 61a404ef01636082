"""The Tactill HTTP client: one session, one table of paths, errors in the dispatcher's terms.

The Tactill contract names operations and bodies but not URL paths: they live in
:data:`DEFAULT_PATHS`, and a backend can override any of them (its ``paths`` JSON field) so
they can be corrected without a code change.
"""

import json
from datetime import UTC, datetime

import requests

from .delivery import EXCERPT, DeliveryError, PausingError, RetryableError

DEFAULT_PATHS = {
    "category.create": "POST /v0/categories",
    "category.search": "POST /v0/categories/search",
    "tax.create": "POST /v0/taxes",
    "tax.search": "POST /v0/taxes/search",
    "product.create": "POST /v0/products",
    "product.patch": "PATCH /v0/products",
    "product.search": "POST /v0/products/search",
    "product.delete": "DELETE /v0/products/{id}",
    "variant.create": "POST /v0/product-variants",
    "variant.update": "PATCH /v0/product-variants",
    "customer.create": "POST /v0/customers",
    "customer.search": "POST /v0/customers/search",
    "sale.create": "POST /v0/sales",
    "sale.update": "PATCH /v0/sales",
    "sale.search": "POST /v0/sales/search",
}
TIMEOUT = 10


class AmbiguousError(RetryableError):
    """The request may have been processed (timeout or connection lost after it left): look
    the resource up before creating it again."""


def _retry_seconds(value, now=None):
    """Seconds until ``X-RateLimit-Retry-After`` (a UTC ISO 8601 timestamp), or None."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max((moment - (now or datetime.now(UTC))).total_seconds(), 0.0)


class TactillClient:
    """Calls Tactill operations by name.

    ``before_write(n)`` is called before each non-GET request (the rate budget; it may wait
    or raise), ``after_limited(seconds)`` after a 429 with the moment it names.
    """

    def __init__(self, base_url, api_key, session=None, paths=None, timeout=TIMEOUT,
                 before_write=None, after_limited=None):  # fmt: skip
        self.base_url = (base_url or "").rstrip("/")
        self.api_key = api_key or ""
        self.session = session or requests.Session()
        self.paths = {**DEFAULT_PATHS, **(paths or {})}
        self.timeout = timeout
        self.before_write = before_write
        self.after_limited = after_limited
        self.requests = 0

    def call(self, operation, body=None, **params):
        """Perform ``operation``; returns the decoded JSON answer or raises a DeliveryError."""
        try:
            method, path = self.paths[operation].split(" ", 1)
        except (KeyError, ValueError):
            raise DeliveryError(f"Tactill path for {operation!r} is not configured") from None
        url = self.base_url + path.format(**params)
        if method != "GET" and self.before_write:
            self.before_write(1)
        self.requests += 1
        headers = {"X-Api-Key": self.api_key, "Accept": "application/json",
                   "Accept-Encoding": "identity"}  # fmt: skip
        try:
            response = self.session.request(
                method, url, json=body, headers=headers, timeout=self.timeout,
                allow_redirects=False,
            )  # fmt: skip
        except requests.ConnectTimeout:
            raise RetryableError(f"Tactill {operation}: connection timed out") from None
        except requests.Timeout:
            raise AmbiguousError(f"Tactill {operation}: no answer in {self.timeout} s") from None
        except requests.ConnectionError as exc:
            if "Connection refused" in str(exc) or "Name or service" in str(exc):
                raise RetryableError(f"Tactill {operation}: unreachable ({url})") from None
            raise AmbiguousError(f"Tactill {operation}: connection lost") from None
        except requests.RequestException as exc:
            raise RetryableError(f"Tactill {operation}: {exc.__class__.__name__}") from None
        return self._answer(operation, response)

    def _answer(self, operation, response):
        status = response.status_code
        content = response.content
        excerpt = content[:EXCERPT].decode(errors="replace")
        data, message = None, ""
        try:
            data = json.loads(content) if content else {}
        except ValueError:
            data = None
        if isinstance(data, dict):
            message = str(data.get("message") or data.get("error") or "")
        prefix = f"Tactill {operation}: HTTP {status}"
        detail = f"{prefix}: {message}" if message else prefix
        if status == 429:
            seconds = _retry_seconds(response.headers.get("X-RateLimit-Retry-After"))
            if self.after_limited:
                self.after_limited(seconds)
            raise RetryableError(detail, seconds=seconds, status=status, excerpt=excerpt)
        if status >= 500:
            raise RetryableError(detail, status=status, excerpt=excerpt)
        if status in (401, 403):
            raise PausingError(
                f"{detail} (API key refused or lacking permission)", status=status,
                excerpt=excerpt,
            )  # fmt: skip
        if status >= 300:
            raise DeliveryError(detail, status=status, excerpt=excerpt)
        if not isinstance(data, dict | list):
            kind = response.headers.get("Content-Type", "unknown content type")
            raise RetryableError(
                f"{prefix}: the answer is not JSON ({kind})", status=status, excerpt=excerpt
            )
        return data

    # -- lookups for exactly-once --------------------------------------------------------------
    def find_one(self, operation, field, value):
        """The first resource whose ``field`` equals ``value`` (a search operation), or None."""
        answer = self.call(operation, {"filter": {field: {"eq": value}}, "limit": 1})
        items = answer.get("items") if isinstance(answer, dict) else None
        return items[0] if items else None

    def find_sale(self, original_id):
        return self.find_one("sale.search", "original_id", original_id)

    def find_product(self, reference):
        return self.find_one("product.search", "reference", reference)

    def find_customer(self, original_id):
        return self.find_one("customer.search", "original_id", original_id)

    def iterate(self, operation, body=None, limit=100):
        """Every item of a search operation, following ``next_token``."""
        body = dict(body or {}, limit=limit)
        while True:
            answer = self.call(operation, body)
            yield from answer.get("items") or ()
            token = answer.get("next_token")
            if not token:
                return
            body["next_token"] = token
