"""The HTTP client of an HQ server (``specs/hq-store-api.md``): one session, tokens, errors.

Tokens: the client logs in once (username + PIN or password) and reuses the access token
across calls, threads and workers through a :class:`TokenStore` (the backend keeps them in a
field only the superuser reads). It refreshes the access token with ``{"refreshToken"}`` when
the JWT's ``exp`` is near or HQ answers 401, and logs in again when the refresh is refused.
Tokens never appear in logs or error messages.

Errors are those of :mod:`.delivery`: 5xx, 429, timeouts, unreachable servers and answers that
are not the ``{success, data, error}`` envelope are :class:`RetryableError`; 400/404/409/422
are :class:`DeliveryError` carrying HQ's ``error`` text; a 403 (missing permission) or a
refused login is a :class:`PausingError` naming the permission. ``ambiguous`` on a
:class:`RetryableError` says the request may have been processed (timeout after sending).
"""

import collections
import re
import threading
import time

import jwt
import requests

from .delivery import TIMEOUT, DeliveryError, PausingError, RetryableError, retry_after_seconds

REFRESH_MARGIN = 30  # seconds before ``exp`` at which an access token is renewed, at most
_LOCKS = collections.defaultdict(threading.Lock)  # one token renewal at a time per store key
_PERMISSION = re.compile(r"permission:?\s*([\w.]+)", re.IGNORECASE)


class AuthRefused(PausingError):
    """HQ refused the credentials or the session."""


def token_expiry(token):
    """(exp, iat) of a JWT, unverified (HQ's key is not ours); (0, 0) if unreadable."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return 0, 0
    return claims.get("exp") or 0, claims.get("iat") or 0


def is_expiring(token, now=None):
    """Whether ``token`` expires within the margin: 30 s, or a fifth of a shorter lifetime."""
    exp, iat = token_expiry(token)
    if not exp:
        return True
    margin = min(REFRESH_MARGIN, (exp - iat) / 5) if iat else REFRESH_MARGIN
    return exp - margin <= (now or time.time())


class TokenStore:
    """Where the tokens live between calls; this one keeps them in memory (one process).

    ``key`` identifies the store across client instances: renewals with the same key are
    serialised in a process, so concurrent threads log in once.
    """

    def __init__(self, key="memory"):
        self.key = key
        self._tokens = (None, None)

    def load(self):
        """(access token, refresh token), either may be None."""
        return self._tokens

    def save(self, access, refresh):
        self._tokens = (access, refresh)


class HqClient:
    """Calls to one HQ server as one user; :meth:`call` returns the answer's envelope."""

    def __init__(
        self, base_url, credentials, tokens=None, session=None, timeout=TIMEOUT, before_request=None
    ):
        """``before_request`` is called before each request leaves (the connector ends its
        transaction there, so that none stays open while waiting on HQ)."""
        self.before_request = before_request
        self.base_url = (base_url or "").rstrip("/")
        self.credentials = credentials  # {"username", "pin" or "password"}
        self.tokens = tokens or TokenStore()
        self.session = session or requests.Session()
        self.timeout = timeout
        self.permissions = None  # from the last login

    # -- public calls --------------------------------------------------------------------------
    def health(self):
        """``GET /health``: HQ's answer (``{"status": "ok", ...}``), not enveloped."""
        response = self._send("GET", "/health")
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code != 200 or not isinstance(answer, dict):
            raise RetryableError(
                f"HQ health check answered HTTP {response.status_code}", status=response.status_code
            )
        return answer

    def login(self):
        """Log in with the credentials; stores the tokens and returns the login ``data``."""
        credentials = {k: v for k, v in self.credentials.items() if v}
        if not credentials.get("username") or not (
            credentials.get("pin") or credentials.get("password")
        ):
            raise AuthRefused("HQ username and PIN or password are not set")
        try:
            data = self.call("POST", "/api/v1/auth/login", json=credentials, auth=False)["data"]
        except AuthRefused as exc:
            raise AuthRefused(f"HQ login refused: {exc}", status=exc.status) from None
        self.tokens.save(data["accessToken"], data["refreshToken"])
        self.permissions = data.get("permissions") or []
        return data

    def call(self, method, path, json=None, params=None, auth=True):
        """One API call; returns the envelope (``data`` and pagination) or raises."""
        token = self._access_token() if auth else None
        response = self._send(method, path, json=json, params=params, token=token)
        if auth and response.status_code == 401:
            token = self._renew(stale=token)
            response = self._send(method, path, json=json, params=params, token=token)
            if response.status_code == 401:
                raise AuthRefused(
                    f"HQ refused a fresh session: {_error_text(response)}", status=401
                )
        return self._envelope(method, path, response)

    def data(self, method, path, json=None, params=None):
        return self.call(method, path, json=json, params=params)["data"]

    def pages(self, path, params=None, page_size=100):
        """Every item of a paginated list."""
        page = 1
        while True:
            answer = self.call(
                "GET", path, params={**(params or {}), "page": page, "pageSize": page_size}
            )
            items = answer.get("data") or []
            yield from items
            total = answer.get("total")
            if not items or total is None or page * answer.get("pageSize", page_size) >= total:
                return
            page += 1

    # -- tokens ----------------------------------------------------------------------------------
    def _access_token(self):
        access, _refresh = self.tokens.load()
        if access and not is_expiring(access):
            return access
        return self._renew(stale=access)

    def _renew(self, stale):
        """A usable access token in place of ``stale``: refreshed, or from a new login."""
        with _LOCKS[self.tokens.key]:
            access, refresh = self.tokens.load()
            if access and access != stale and not is_expiring(access):
                return access  # another thread or worker renewed it meanwhile
            if refresh:
                try:
                    data = self.call(
                        "POST", "/api/v1/auth/refresh", json={"refreshToken": refresh}, auth=False
                    )["data"]
                except AuthRefused:
                    data = None  # refresh token expired or revoked: log in again
                if data:
                    self.tokens.save(data["accessToken"], data.get("refreshToken") or refresh)
                    return data["accessToken"]
            return self.login()["accessToken"]

    # -- HTTP ------------------------------------------------------------------------------------
    def _send(self, method, path, json=None, params=None, token=None):
        if not self.base_url.startswith(("http://", "https://")):
            raise DeliveryError("HQ base URL is not an http(s) URL")
        if self.before_request:
            self.before_request()
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return self.session.request(
                method,
                self.base_url + path,
                json=json,
                params=params,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.ConnectionError as exc:
            if isinstance(exc, requests.ConnectTimeout) or _refused(exc):
                raise RetryableError(f"HQ unreachable: {exc.__class__.__name__}") from None
            error = RetryableError(f"HQ connection lost: {exc.__class__.__name__}")
            error.ambiguous = True
            raise error from None
        except requests.Timeout:
            error = RetryableError(f"HQ timed out after {self.timeout} s")
            error.ambiguous = True
            raise error from None
        except requests.RequestException as exc:
            raise RetryableError(f"HQ request failed: {exc.__class__.__name__}") from None

    def _envelope(self, method, path, response):
        status = response.status_code
        where = f"{method} {path}"
        try:
            answer = response.json()
        except ValueError:
            answer = None
        excerpt = response.text[:500]
        if not isinstance(answer, dict) or not isinstance(answer.get("success"), bool):
            kind = (response.headers.get("Content-Type") or "no content type").split(";")[0]
            shape = "an envelope without success" if isinstance(answer, dict) else kind
            error = RetryableError(
                f"HQ answered {shape} (HTTP {status}) to {where}", status=status, excerpt=excerpt
            )
            error.ambiguous = method != "GET"
            raise error
        if answer["success"] and 200 <= status < 300:
            return answer
        text = answer.get("error") or f"HTTP {status}"
        if status == 401:
            raise AuthRefused(text, status=status, excerpt=excerpt)
        if status == 403:
            match = _PERMISSION.search(text)
            named = f"missing HQ permission {match.group(1)}" if match else "HQ refused access"
            raise PausingError(f"{named} ({where}: {text})", status=status, excerpt=excerpt)
        if status == 429 or status >= 500:
            seconds = retry_after_seconds(response.headers.get("Retry-After"))
            raise RetryableError(
                f"HQ error {status} on {where}: {text}",
                seconds=seconds,
                status=status,
                excerpt=excerpt,
            )
        error = DeliveryError(
            f"HQ error {status} on {where}: {text}", status=status, excerpt=excerpt
        )
        error.hq_error = text
        raise error


def _refused(exc):
    """Whether a connection error happened before the request left (nothing was sent)."""
    text = str(exc)
    return "Connection refused" in text or "Name or service not known" in text


def _error_text(response):
    try:
        return response.json().get("error") or f"HTTP {response.status_code}"
    except (ValueError, AttributeError):
        return f"HTTP {response.status_code}"
