"""A Tactill API double on 127.0.0.1, written from ``../shared/specs/tactill-api-v0.txt``.

It enforces what the contract says: the ``X-Api-Key`` header (``v5_`` keys, test or production,
revocable; resources of one mode are invisible to the other and carry ``test``), required
fields, integer cents, basis points, ISO 8601 UTC dates, enums, errors as ``{status_code,
error, message}``, token pagination with ``next_token``, and a budget of non-GET requests per
window answered by 429 with ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
``X-RateLimit-Retry-After`` (a UTC timestamp). Paths follow the client's default table.

Failure injection: :meth:`TactillDouble.fail_next` (status n times), ``hang_next`` (store the
resource, then answer only when released or after ``hang_for`` seconds), ``html_next`` (an
HTML page instead of JSON). Every request is recorded in :attr:`requests`.

Nothing here imports Odoo: the bench uses it from a standalone process too.
"""

import base64
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
SALE_STATES = ("OPEN", "AVAILABLE", "CLOSED", "DELETED")
STATUSES = ("NONE", "PARTIAL", "FULL")
PAYMENT_TYPES = ("IN", "OUT")
PAYMENT_METHOD_TYPES = ("CASH", "CARD", "CHECK", "OTHER")
DISCOUNT_TYPES = ("PERCENTAGE", "NUMERIC")


class Invalid(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _now():
    return datetime.now(UTC)


def _stamp():
    return _now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _cents(body, name, required=True, minimum=None):
    value = body.get(name)
    if value is None:
        if required:
            raise Invalid(400, f"{name} is required")
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(400, f"{name} must be an integer number of cents, got {value!r}")
    if minimum is not None and value < minimum:
        raise Invalid(400, f"{name} must be >= {minimum}")


def _text(body, name, required=True):
    value = body.get(name)
    if value is None:
        if required:
            raise Invalid(400, f"{name} is required")
        return
    if not isinstance(value, str) or (required and not value.strip()):
        raise Invalid(400, f"{name} must be a non-empty string")


def _date(body, name, required=True):
    value = body.get(name)
    if value is None:
        if required:
            raise Invalid(400, f"{name} is required")
        return
    if not isinstance(value, str) or not ISO.match(value):
        raise Invalid(400, f"{name} must be an ISO 8601 UTC date (2024-01-01T10:00:00Z)")


def _enum(body, name, values, required=True):
    value = body.get(name)
    if value is None and not required:
        return
    if value not in values:
        raise Invalid(400, f"{name} must be one of {', '.join(values)}, got {value!r}")


def _number(body, name, required=True):
    value = body.get(name)
    if value is None and not required:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid(400, f"{name} must be a number")


class TactillDouble:
    """The double: start() it, point a backend at :meth:`url`, assert on :attr:`requests`."""

    def __init__(self, budget=3000, window=600.0):
        self.lock = threading.RLock()
        self.keys = {}
        self.budget = budget
        self.window = window
        self.release = threading.Event()
        self.hang_for = 30.0
        self.reset()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.double = self
        self.thread = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def reset(self):
        with self.lock:
            self.store = {}  # (resource, test flag) -> {id: object}
            self.requests = []
            self.faults = []  # [(kind, remaining, status, operation prefix)]
            self.window_start = None
            self.window_used = 0
            self.limited = 0  # requests answered 429
            self.release = threading.Event()

    def add_key(self, test=True):
        key = f"v5_{'test' if test else 'live'}_{uuid.uuid4().hex}"
        self.keys[key] = {"test": test, "revoked": False}
        return key

    def revoke(self, key):
        self.keys[key]["revoked"] = True

    # -- failure injection ---------------------------------------------------------------------
    def fail_next(self, times=1, status=503, path=""):
        self.faults.append(["fail", times, status, path])

    def hang_next(self, times=1, path=""):
        self.faults.append(["hang", times, 0, path])

    def html_next(self, times=1, status=200, path=""):
        self.faults.append(["html", times, status, path])

    def _fault(self, path):
        with self.lock:
            for fault in self.faults:
                if fault[1] > 0 and path.startswith(fault[3]):
                    fault[1] -= 1
                    return fault[0], fault[2]
        return None, None

    # -- queries for assertions ----------------------------------------------------------------
    def items(self, resource, test=True):
        with self.lock:
            return list(self.store.get((resource, test), {}).values())

    def writes(self, path_prefix=""):
        """Non-GET requests that were accepted (not 401/429), optionally under a path."""
        return [r for r in self.requests if r["method"] != "GET" and r["status"] not in (401, 429)
                and r["path"].startswith(path_prefix)]  # fmt: skip

    # -- rate limit ----------------------------------------------------------------------------
    def _spend(self):
        """Count one non-GET request; returns (headers, retry moment or None)."""
        with self.lock:
            now = time.time()
            if self.window_start is None or now >= self.window_start + self.window:
                self.window_start, self.window_used = now, 0
            reset = datetime.fromtimestamp(self.window_start + self.window, UTC)
            if self.window_used >= self.budget:
                self.limited += 1
                return {
                    "X-RateLimit-Limit": str(self.budget),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Retry-After": reset.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                }, reset
            self.window_used += 1
            return {
                "X-RateLimit-Limit": str(self.budget),
                "X-RateLimit-Remaining": str(self.budget - self.window_used),
            }, None

    # -- resources -----------------------------------------------------------------------------
    def _table(self, resource, test):
        return self.store.setdefault((resource, test), {})

    def _new(self, resource, test, body, object_id=None):
        obj = {**body, "id": object_id or str(uuid.uuid4()), "test": test,
               "created_at": _stamp(), "updated_at": _stamp()}  # fmt: skip
        with self.lock:
            self._table(resource, test)[obj["id"]] = obj
        return obj

    def _get(self, resource, test, object_id, what=None):
        obj = self._table(resource, test).get(object_id)
        if obj is None or obj.get("deleted"):
            raise Invalid(404, f"{what or resource} {object_id} not found")
        return obj

    def handle(self, method, path, body, test):
        """Dispatch one authenticated request; returns (status, answer)."""
        routes = {
            ("POST", "/v0/categories"): self._create_category,
            ("POST", "/v0/taxes"): self._create_tax,
            ("POST", "/v0/products"): self._create_product,
            ("PATCH", "/v0/products"): self._patch_product,
            ("POST", "/v0/product-variants"): self._create_variant,
            ("PATCH", "/v0/product-variants"): self._update_variant,
            ("POST", "/v0/customers"): self._create_customer,
            ("POST", "/v0/sales"): self._create_sale,
            ("PATCH", "/v0/sales"): self._update_sale,
        }
        search = re.match(r"^/v0/(categories|taxes|products|customers|sales)/search$", path)
        if method == "POST" and search:
            return 200, self._search(search.group(1), body, test)
        one = re.match(r"^/v0/(categories|taxes|products|customers|sales)/([^/]+)$", path)
        if one and method == "GET":
            return 200, self._get(one.group(1), test, one.group(2))
        if one and method == "DELETE":
            obj = self._get(one.group(1), test, one.group(2))
            obj["deleted"] = True
            return 200, obj
        route = routes.get((method, path))
        if route is None:
            raise Invalid(404, f"Cannot {method} {path}")
        if not isinstance(body, dict):
            raise Invalid(400, "the body must be a JSON object")
        return route(body, test)

    def _create_category(self, body, test):
        _text(body, "name")
        return 201, self._new("categories", test, body)

    def _create_tax(self, body, test):
        _cents(body, "rate", minimum=0)
        if body["rate"] > 10000:
            raise Invalid(400, "rate must be between 0 and 10000 basis points")
        return 201, self._new("taxes", test, body)

    def _product_refs(self, body, test, category="category", tax="tax"):
        if category in body:
            value = body[category]
            category_id = value.get("id") if isinstance(value, dict) else value
            self._get("categories", test, category_id, "category")
            body["category_id"] = category_id
        if tax in body:
            value = body[tax]
            tax_id = value.get("id") if isinstance(value, dict) else value
            self._get("taxes", test, tax_id, "tax")
            body["tax_id"] = tax_id

    def _create_product(self, body, test):
        _text(body, "name")
        _cents(body, "buy_price")
        _cents(body, "sell_price")
        for name in ("category", "tax"):
            if not body.get(name):
                raise Invalid(400, f"{name} is required: a product needs a category and a tax")
        self._product_refs(body, test)
        return 201, self._new("products", test, {**body, "variations": []})

    def _patch_product(self, body, test):
        _text(body, "id")
        product = self._get("products", test, body["id"], "product")
        for name in ("buy_price", "sell_price"):
            _cents(body, name, required=False)
        self._product_refs(body, test, "category_id", "tax_id")
        with self.lock:
            product.update(body, updated_at=_stamp())
        return 200, product

    def _create_variant(self, body, test):
        _text(body, "product_id")
        _text(body, "tax_id")
        product = self._get("products", test, body["product_id"], "product")
        self._get("taxes", test, body["tax_id"], "tax")
        if not isinstance(body.get("options"), list) or not body["options"]:
            raise Invalid(400, "options is required")
        for name in ("buy_price", "sell_price"):
            _cents(body, name, required=False)
        variant_id = body.get("variant_id") or str(uuid.uuid4())
        with self.lock:
            if any(v["variant_id"] == variant_id for v in product["variations"]):
                raise Invalid(409, f"variant {variant_id} already exists")
            variant = {**body, "variant_id": variant_id, "id": f"{product['id']}__{variant_id}",
                       "test": test}  # fmt: skip
            product["variations"].append(variant)
        return 201, variant

    def _update_variant(self, body, test):
        _text(body, "product_id")
        _text(body, "variant_id")
        product = self._get("products", test, body["product_id"], "product")
        for variant in product["variations"]:
            if variant["variant_id"] == body["variant_id"]:
                with self.lock:
                    variant.update(body)
                return 200, variant
        raise Invalid(404, f"variant {body['variant_id']} not found")

    def _create_customer(self, body, test):
        for name in ("original_id", "first_name", "last_name", "email", "phone"):
            value = body.get(name)
            if value is not None and not isinstance(value, str):
                raise Invalid(400, f"{name} must be a string or null")
        return 201, self._new("customers", test, body)

    def _check_sale(self, body, test, creating):
        required = creating
        for name in ("shop_id", "source_id", "source_name"):
            _text(body, name, required)
        _enum(body, "state", SALE_STATES, required)
        for name in ("refund_status", "refunded_status", "payment_status"):
            _enum(body, name, STATUSES, required)
        _date(body, "opened_at", required)
        _date(body, "closed_at", False)
        for name in ("total", "total_discount", "total_tax_free", "total_tax", "total_rest"):
            _cents(body, name, required)
        if body.get("customer_id"):
            self._get("customers", test, body["customer_id"], "customer")
        if body.get("target_id"):
            self._get("sales", test, body["target_id"], "target sale")
        for line in body.get("lines") or ():
            product = self._get("products", test, line.get("product_id"), "product")
            if line.get("variant_id") and not any(
                v["variant_id"] == line["variant_id"] for v in product["variations"]
            ):
                raise Invalid(404, f"variant {line['variant_id']} not found")
            _number(line, "quantity")
            for name in ("unit_price", "total"):
                _cents(line, name)
            for name in ("discount", "total_tax", "total_tax_free"):
                _cents(line, name, required=False)
            for tax in line.get("taxes") or ():
                _cents(tax, "rate", minimum=0)
                _cents(tax, "amount")
        for discount in body.get("discounts") or ():
            _enum(discount, "type", DISCOUNT_TYPES)
            _number(discount, "rate")
        for payment in body.get("payments") or ():
            _cents(payment, "amount", minimum=0)
            _enum(payment, "type", PAYMENT_TYPES)
            _enum(payment, "payment_method_type", PAYMENT_METHOD_TYPES)
            _date(payment, "date", False)
        lines = body.get("lines")
        if creating and lines and sum(line["total"] for line in lines) != body["total"]:
            raise Invalid(400, "the lines' totals do not add up to the sale total")

    def _create_sale(self, body, test):
        self._check_sale(body, test, creating=True)
        return 201, self._new("sales", test, body)

    def _update_sale(self, body, test):
        _text(body, "id")
        sale = self._get("sales", test, body["id"], "sale")
        self._check_sale(body, test, creating=False)
        with self.lock:
            sale.update(body, updated_at=_stamp())
        return 200, sale

    def _search(self, resource, body, test):
        body = body if isinstance(body, dict) else {}
        limit = body.get("limit", 20)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
            raise Invalid(400, "limit must be an integer between 1 and 100")
        items = [obj for obj in self._table(resource, test).values() if not obj.get("deleted")]
        for name, condition in (body.get("filter") or {}).items():
            if not isinstance(condition, dict) or "eq" not in condition:
                raise Invalid(400, f"filter on {name}: only {{'eq': value}} is supported")
            items = [obj for obj in items if obj.get(name) == condition["eq"]]
        start = 0
        if body.get("next_token"):
            try:
                start = int(base64.urlsafe_b64decode(body["next_token"]).decode())
            except ValueError:
                raise Invalid(400, "invalid next_token") from None
        page = items[start : start + limit]
        end = start + limit
        token = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
        return {"items": page, "next_token": token, "total": len(items)}


class _Handler(BaseHTTPRequestHandler):
    server_version = "TactillDouble/0"
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        """Silence the default access log."""

    def _serve(self):
        double = self.server.double
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        record = {"method": self.command, "path": self.path, "at": time.time(),
                  "key": self.headers.get("X-Api-Key"), "body": None}  # fmt: skip
        with double.lock:
            double.requests.append(record)
        headers = {}
        try:
            key = double.keys.get(self.headers.get("X-Api-Key") or "")
            if key is None or key["revoked"]:
                raise Invalid(401, "invalid or revoked API key")
            if self.command != "GET":
                headers, limited = double._spend()
                if limited:
                    raise Invalid(429, "rate limit exceeded")
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                raise Invalid(400, "the body is not valid JSON") from None
            record["body"] = body
            kind, fault_status = double._fault(self.path)
            if kind == "fail":
                raise Invalid(fault_status, "service unavailable")
            if kind == "html":
                record["status"] = fault_status
                return self._send(fault_status, b"<html><body>Bad gateway</body></html>",
                                  "text/html", headers)  # fmt: skip
            status, answer = double.handle(self.command, self.path, body, key["test"])
            if kind == "hang":
                double.release.wait(double.hang_for)
                record["hung"] = True
        except Invalid as exc:
            status, answer = exc.status, {
                "status_code": exc.status,
                "error": {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
                          404: "Not Found", 409: "Conflict", 429: "Too Many Requests",
                          503: "Service Unavailable"}.get(exc.status, "Error"),
                "message": str(exc),
            }  # fmt: skip
        record["status"] = status
        record["answer"] = answer
        self._send(status, json.dumps(answer).encode(), "application/json", headers)

    def _send(self, status, payload, content_type, headers):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # the client gave up (timeout): what was stored stays stored
            self.close_connection = True

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve
