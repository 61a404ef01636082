"""The HTTP plumbing shared by every ``/api/sync/v1`` route.

One :class:`ApiCall` per request: it parses the JSON body, authenticates the bearer token,
counts the call against the caller's rate limits, runs the route's handler, and answers in the
documented envelope (``request_id`` in the body and ``X-Request-Id``; errors with
``error.trace_id``). On any error the transaction is rolled back, so nothing is half-written,
and the call is still logged.
"""

import functools
import json
import logging
import re
import time
import uuid

from odoo import http
from odoo.exceptions import ConcurrencyError
from odoo.http import request
from odoo.service.model import PG_CONCURRENCY_ERRORS_TO_RETRY

from ..tools.errors import (
    RATE_LIMIT_EXCEEDED,
    AuthenticationError,
    InternalError,
    ValidationFailed,
    from_exception,
)
from ..tools.safejson import load_json

_logger = logging.getLogger(__name__)

PREFIX = "/api/sync/v1"
MAX_IDEMPOTENCY_KEY = 255
_ID = re.compile(r"[0-9]{1,10}")
_BEARER = re.compile(r"^\s*bearer\s+(\S+)\s*$", re.IGNORECASE)


class ApiCall:
    """State of one API request; handlers receive it as their ``call`` argument."""

    def __init__(self, authenticated, idempotent):
        self.authenticated = authenticated
        self.idempotent = idempotent
        self.request_id = "req_" + uuid.uuid4().hex[:20]
        self.started = time.perf_counter()
        self.identity = None
        self.model = None
        self.headers = {"X-Request-Id": self.request_id}
        self._raw_body = b""
        self.body = None

    # -- request input -------------------------------------------------------------------------
    @property
    def env(self):
        return request.env

    @property
    def params(self):
        """Query-string parameters as a plain dict (last value wins)."""
        return request.httprequest.args.to_dict()

    @property
    def remote_addr(self):
        return request.httprequest.remote_addr

    def _parse_body(self):
        httprequest = request.httprequest
        max_mb = request.env["api.sync.auth"]._param("max_body_mb")
        limit = max_mb * 1024 * 1024
        if (httprequest.content_length or 0) > limit:
            raise ValidationFailed(
                f"Request body larger than {max_mb} MB", {"constraint": "max_body_size"}, status=413
            )
        self._raw_body = httprequest.get_data(cache=True)
        if len(self._raw_body) > limit:
            raise ValidationFailed(
                f"Request body larger than {max_mb} MB", {"constraint": "max_body_size"}, status=413
            )
        # a form body was already consumed by Odoo's form parsing (empty raw data): the
        # Content-Length still tells that a body was sent
        sent = bool(self._raw_body.strip()) or bool(httprequest.content_length)
        if sent and httprequest.mimetype != "application/json":
            raise ValidationFailed(
                "Content-Type must be application/json",
                {"constraint": "content_type", "value": httprequest.mimetype},
                status=415,
            )
        if not self._raw_body.strip():
            self.body = {}
            return
        self.body = load_json(self._raw_body, "body")

    def bearer_token(self):
        match = _BEARER.match(request.httprequest.headers.get("Authorization", ""))
        if not match:
            raise AuthenticationError("Missing bearer token: send `Authorization: Bearer <token>`")
        return match.group(1)

    def _authenticate(self):
        self.identity = request.env["api.sync.auth"].sudo()._authenticate(self.bearer_token())
        request.update_env(user=self.identity.uid)
        request.env["api.sync.rate.counter"].sudo()._check(
            self.identity.rate_key, self.identity.limits
        )

    # -- idempotency ---------------------------------------------------------------------------
    def _idempotency(self):
        key = request.httprequest.headers.get("Idempotency-Key")
        if not (self.idempotent and key and self.identity):
            return None
        if len(key) > MAX_IDEMPOTENCY_KEY:
            raise ValidationFailed(
                f"Idempotency-Key longer than {MAX_IDEMPOTENCY_KEY} characters",
                {"field": "Idempotency-Key", "constraint": "max_length"},
            )
        Keys = request.env["api.sync.idempotency.key"].sudo()
        digest = Keys._hash(request.httprequest.method, request.httprequest.path, self._raw_body)
        return Keys, key, digest

    # -- run -----------------------------------------------------------------------------------
    def run(self, handler, kwargs):
        self.model = kwargs.get("model")
        status, payload = 200, None
        try:
            self._parse_body()
            if self.authenticated:
                self._authenticate()
            idem = self._idempotency()
            stored = idem and idem[0]._lookup(self.identity.rate_key, idem[1], idem[2])
            if stored:
                status, payload = stored
                self.headers["Idempotent-Replayed"] = "true"
            else:
                status, data = handler(self, **kwargs)
                request.env.cr.flush()  # constraint errors surface here, inside the envelope
                payload = {"success": True, **data, "request_id": self.request_id}
                if idem and status < 400:
                    idem[0]._store(self.identity.rate_key, idem[1], idem[2], status, payload)
                    request.env.cr.flush()
        except Exception as exc:
            if isinstance(exc, ConcurrencyError) or getattr(exc, "pgcode", None) in (
                PG_CONCURRENCY_ERRORS_TO_RETRY
            ):
                raise  # Odoo's retrying() replays the whole request
            status, payload = self._fail(exc)
        # (a batch with failed operations answers 200 with success false and no "error")
        rate_limited = (payload.get("error") or {}).get("code") == RATE_LIMIT_EXCEEDED
        if self.identity and not rate_limited:
            # counted at the end (after any rollback), so concurrent calls never queue on it
            self.headers.update(
                request.env["api.sync.rate.counter"]
                .sudo()
                ._hit(self.identity.rate_key, self.identity.limits)
            )
        self._log(status, payload)
        return request.make_json_response(payload, headers=self.headers, status=status)

    def _fail(self, exc):
        error = from_exception(exc)
        if error is None:
            _logger.exception("api_sync request %s failed", self.request_id)
            error = InternalError(f"Internal server error (trace {self.request_id})")
        request.env.cr.rollback()
        after_rollback = getattr(error, "after_rollback", None)
        if after_rollback:
            after_rollback(request.env(su=True))
        self.headers.update(error.headers)
        payload = {"success": False, "error": error.to_dict(self.request_id)}
        payload.update(getattr(error, "extra", {}))
        payload["request_id"] = self.request_id
        return error.status, payload

    def _log(self, status, payload):
        client = request.env["api.sync.client"].sudo()
        if self.identity and self.identity.client_id:
            client = client.browse(self.identity.client_id)
        values = {
            "request_id": self.request_id,
            "client_id": client.id or None,
            "user_id": self.identity.uid if self.identity else None,
            "company_id": request.env.user.company_id.id if self.identity else None,
            "method": request.httprequest.method,
            "path": request.httprequest.path[:512],
            "model": self.model,
            "status": status,
            "error_code": (payload.get("error") or {}).get("code"),
            "duration_ms": (time.perf_counter() - self.started) * 1000,
            "remote_addr": self.remote_addr,
        }
        if client.log_bodies:
            values["request_body"] = self._raw_body.decode(errors="replace")[:100000]
            values["response_body"] = json.dumps(payload, default=str)[:100000]
        # PostgreSQL text cannot hold NUL: a path like /res.partner/1%00 is still logged
        values = {
            name: value.replace("\x00", "\ufffd") if isinstance(value, str) else value
            for name, value in values.items()
        }
        request.env["api.sync.request.log"].sudo()._record(values)


def api_route(routes, methods, *, authenticated=True, idempotent=False):
    """Declare an ``/api/sync/v1`` endpoint; ``routes`` are relative to the prefix.

    The handler is called as ``handler(controller, call, **url_args)`` and returns
    ``(http_status, dict)``; the dict is merged into the success envelope.
    """
    routes = [PREFIX + route for route in ([routes] if isinstance(routes, str) else routes)]

    def decorator(handler):
        def endpoint(controller, **kwargs):
            call = ApiCall(authenticated, idempotent)
            url_args = {k: v for k, v in kwargs.items() if k in endpoint.url_args}
            return call.run(functools.partial(handler, controller), url_args)

        # not functools.wraps: Odoo would read the handler's signature and drop query args
        endpoint.__name__ = endpoint.__qualname__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        endpoint.url_args = {
            name for route in routes for name in re.findall(r"<(?:\w+:)?(\w+)>", route)
        }
        return http.route(
            routes,
            type="http",
            auth="none",
            methods=methods,
            csrf=False,
            save_session=False,
            readonly=False,
        )(endpoint)

    return decorator


def parse_id(raw):
    """A record id from the URL; 400 when it is not a positive integer."""
    if not _ID.fullmatch(str(raw)) or not 0 < int(raw) < 2**31:  # ids are PostgreSQL int4
        raise ValidationFailed(f"Invalid record id {raw!r}", {"field": "id", "value": raw})
    return int(raw)
