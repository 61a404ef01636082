"""A local HQ server for the tests and the bench, written from ``specs/hq-store-api.md``.

:class:`HqDouble` listens on ``127.0.0.1`` (a free port) in a thread and plays an HQ server:
the ``{success, data, error}`` envelope on every ``/api/v1`` answer, login with username + PIN
or password, JWT access tokens (HS256, ``exp``) with a configurable short lifetime, refresh with
``{"refreshToken"}`` (rotated; expired or revoked refresh tokens refused), permissions per user
(403 names the missing one), integer cents, quantities in thousandths, tax rates in basis
points, required fields; stores, users and store employees, tenders, departments, tax groups,
products (barcode lookup, soft delete), customers, sales (list by date range and store,
void) and ``/health``.

Failure injection (:meth:`HqDouble.inject`): ``status`` (e.g. 503) answers, a ``timeout`` after
the sale was stored (the answer is held back until the client gave up), a connection ``reset``
after the request was processed, ``html`` answers and an envelope without ``success``; a wrong
PIN is simply refused. Every request is recorded.

Nothing here imports Odoo: the bench runs it as a process of its own (as a real HQ is remote),
``python3 tests/hq_double.py [--port 0] [--access-ttl 900]``, which prints ``PORT <n>`` on its
first line; ``GET /_double/state`` (no token) then answers ``{"store", "logins", "refreshes",
"products", "sales"}``: the store, the counters and the sales as stored.
"""

# pylint: disable=print-used  (run alone, it prints its port)
import argparse
import contextlib
import datetime
import json
import re
import secrets
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt

ALL_PERMISSIONS = (
    "products.view",
    "products.create",
    "products.edit",
    "products.delete",
    "taxes.view",
    "taxes.manage",
    "users.view",
    "stores.view",
    "tenders.view",
    "customers.view",
    "customers.create",
    "pos.sell",
    "pos.void",
)
PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


class HqError(Exception):
    """An answer ``{success: false, error}`` with an HTTP status."""

    def __init__(self, status, error):
        super().__init__(error)
        self.status = status
        self.error = error


@dataclass
class Injection:
    """A scripted failure: ``status``, ``timeout``, ``reset``, ``html`` or ``no_success``."""

    method: str
    path: re.Pattern
    kind: str
    status: int = 503
    times: int = 1


def _now():
    return datetime.datetime.now(datetime.UTC)


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _Handler(BaseHTTPRequestHandler):
    server_version = "HqDouble/1"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        """Silence the default access log."""

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_PATCH(self):
        self._handle("PATCH")

    def do_DELETE(self):
        self._handle("DELETE")

    def _handle(self, method):
        double = self.server.double
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        record = {
            "method": method,
            "path": url.path,
            "query": {k: v[-1] for k, v in parse_qs(url.query).items()},
            "headers": dict(self.headers.items()),
            "raw": raw,
            "at": time.time(),
        }
        injection = double._take_injection(method, url.path)
        if injection is not None and injection.kind in ("status", "html"):
            # refused before processing: nothing is stored
            status, payload = injection.status, {"success": False, "error": "Service Unavailable"}
            record["injected"] = injection.kind
        else:
            status, payload = double._dispatch(method, url.path, record, raw)
        record["status"] = status
        record["answer"] = payload
        with double.lock:
            double.requests.append(record)
        if injection is None or injection.kind == "status":
            self._send(status, json.dumps(payload).encode())
        elif injection.kind == "html":
            self._send(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
        elif injection.kind == "reset":
            record["injected"] = "reset"  # processed, then the connection drops unanswered
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif injection.kind == "timeout":
            record["injected"] = "timeout"
            # processed (the sale is stored), but the answer is held back until the client has
            # given up or the double is stopped
            double.released.wait(double.hang)
            self._send(status, json.dumps(payload).encode())
        else:
            record["injected"] = "no_success"
            self._send(200, json.dumps({"data": payload.get("data")}).encode())

    def _send(self, status, body, content_type="application/json"):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class HqDouble:
    """An HQ server on ``127.0.0.1`` in a thread; see the module docstring."""

    def __init__(self, access_ttl=900, refresh_ttl=7 * 86400, hang=5.0):
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.hang = hang  # seconds a ``timeout`` injection holds its answer back, at most
        self.lock = threading.RLock()
        self.released = threading.Event()
        self.server = None
        self.thread = None
        self.secret = secrets.token_hex(32)
        self.reset()

    # -- life cycle ----------------------------------------------------------------------------
    def start(self, port=0):
        self.server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.server.daemon_threads = True
        self.server.double = self
        self.thread = threading.Thread(
            target=self.server.serve_forever,
            kwargs={"poll_interval": 0.1},
            daemon=True,
            name="hq-double",
        )
        self.thread.start()
        return self

    def stop(self):
        self.released.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)
            self.server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def reset(self):
        """Forget everything; one store, a manager and a cashier, CASH/CARD tenders."""
        with self.lock:
            self.released.clear()
            self.requests = []
            self.injections = []
            self.revoked = set()
            self.logins = 0
            self.refreshes = 0
            self.store = {"id": str(uuid.uuid4()), "code": "S01", "name": "Main Street"}
            self.stores = {self.store["id"]: self.store}
            self.users = {}
            self.manager = self.add_user(
                "manager", pin="1234", password="secret-pw", display_name="Store Manager"
            )
            self.cashier = self.add_user(
                "cashier", pin="9999", display_name="Till Cashier", permissions=("pos.sell",)
            )
            self.tenders = {}
            for code, name in (("CASH", "Cash"), ("CARD", "Card"), ("VOUCHER", "Gift voucher")):
                self.add_tender(code, name)
            self.departments = {}
            self.tax_groups = {}
            self.products = {}
            self.customers = {}
            self.sales = {}

    # -- configuration -------------------------------------------------------------------------
    def add_user(
        self, username, pin=None, password=None, display_name=None, permissions=ALL_PERMISSIONS
    ):
        user = {
            "id": str(uuid.uuid4()),
            "username": username,
            "pin": pin,
            "password": password,
            "displayName": display_name or username,
            "isActive": True,
            "storeId": self.store["id"],
            "permissions": list(permissions),
        }
        self.users[user["id"]] = user
        return user

    def add_tender(self, code, name):
        tender = {"id": str(uuid.uuid4()), "code": code, "name": name, "isActive": True}
        self.tenders[tender["id"]] = tender
        return tender

    def add_product(self, **values):
        product = {
            "id": str(uuid.uuid4()),
            "isActive": True,
            "sku": None,
            "barcode": None,
            "description": None,
            "departmentId": None,
            "taxGroupId": None,
            "costPrice": 0,
            "sellPrice": 0,
            "trackStock": False,
            **values,
        }
        self.products[product["id"]] = product
        return product

    def inject(self, method, path, kind="status", status=503, times=1):
        """Make the next ``times`` requests ``method`` on a path matching regex ``path`` fail."""
        with self.lock:
            self.injections.append(Injection(method, re.compile(path), kind, status, times))

    def revoke_refresh_tokens(self):
        """Refuse every refresh token issued so far (the next refresh must log in again)."""
        with self.lock:
            for record in self.requests:
                data = (record.get("answer") or {}).get("data")
                if isinstance(data, dict) and data.get("refreshToken"):
                    self.revoked.add(data["refreshToken"])

    def _take_injection(self, method, path):
        with self.lock:
            for injection in self.injections:
                if injection.method == method and injection.path.search(path):
                    injection.times -= 1
                    if injection.times <= 0:
                        self.injections.remove(injection)
                    return injection
        return None

    # -- results -------------------------------------------------------------------------------
    def calls(self, method=None, path=None):
        """Recorded requests, optionally those of ``method`` on a path matching regex ``path``."""
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r["method"] == method)
                and (path is None or re.search(path, r["path"]))
            ]

    def body(self, record):
        return json.loads(record["raw"]) if record["raw"] else None

    def sales_by_receipt(self, receipt):
        with self.lock:
            return [s for s in self.sales.values() if s["receiptNumber"] == receipt]

    # -- tokens --------------------------------------------------------------------------------
    def _issue(self, user):
        now = int(time.time())
        claims = {"sub": user["id"], "iat": now, "jti": secrets.token_hex(8)}
        access = jwt.encode(
            {**claims, "typ": "access", "exp": now + self.access_ttl},
            self.secret,
            algorithm="HS256",
        )
        refresh = jwt.encode(
            {**claims, "typ": "refresh", "exp": now + self.refresh_ttl},
            self.secret,
            algorithm="HS256",
        )
        return access, refresh

    def _decode(self, token, typ):
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"])
        except jwt.ExpiredSignatureError:
            raise HqError(401, "Token expired") from None
        except jwt.InvalidTokenError:
            raise HqError(401, "Invalid token") from None
        if claims.get("typ") != typ or claims["sub"] not in self.users:
            raise HqError(401, "Invalid token")
        return self.users[claims["sub"]]

    def _authenticate(self, record):
        header = record["headers"].get("Authorization") or ""
        if not header.startswith("Bearer "):
            raise HqError(401, "Authentication required")
        user = self._decode(header[7:], "access")
        record["user"] = user["username"]
        return user

    # -- routing -------------------------------------------------------------------------------
    ROUTES = (
        ("POST", r"/api/v1/auth/login", "_login", None),
        ("POST", r"/api/v1/auth/refresh", "_refresh", None),
        ("GET", r"/api/v1/auth/me", "_me", ""),
        ("GET", r"/api/v1/stores", "_list_stores", "stores.view"),
        ("GET", r"/api/v1/users", "_list_users", "users.view"),
        ("GET", r"/api/v1/users/store-employees", "_store_employees", ""),
        ("GET", r"/api/v1/tenders", "_list_tenders", "tenders.view"),
        ("GET", r"/api/v1/departments", "_list_departments", "products.view"),
        ("POST", r"/api/v1/departments", "_create_department", "products.create"),
        ("GET", r"/api/v1/taxes/groups", "_list_tax_groups", "taxes.view"),
        ("POST", r"/api/v1/taxes/groups", "_create_tax_group", "taxes.manage"),
        ("GET", r"/api/v1/products", "_list_products", "products.view"),
        ("POST", r"/api/v1/products", "_create_product", "products.create"),
        ("GET", r"/api/v1/products/barcode/(?P<barcode>[^/]+)", "_by_barcode", "products.view"),
        ("GET", r"/api/v1/products/(?P<rid>[^/]+)", "_get_product", "products.view"),
        ("PUT", r"/api/v1/products/(?P<rid>[^/]+)", "_update_product", "products.edit"),
        ("DELETE", r"/api/v1/products/(?P<rid>[^/]+)", "_delete_product", "products.delete"),
        (
            "PATCH",
            r"/api/v1/products/(?P<rid>[^/]+)/toggle-active",
            "_toggle_product",
            "products.edit",
        ),
        ("GET", r"/api/v1/customers", "_list_customers", "customers.view"),
        ("POST", r"/api/v1/customers", "_create_customer", "customers.create"),
        ("GET", r"/api/v1/sales", "_list_sales", "pos.sell"),
        ("POST", r"/api/v1/sales", "_create_sale", "pos.sell"),
        ("PUT", r"/api/v1/sales/(?P<rid>[^/]+)/void", "_void_sale", "pos.void"),
    )

    def _dispatch(self, method, path, record, raw):
        if path == "/health":
            return 200, {"status": "ok"}
        if method == "GET" and path == "/_double/state":
            with self.lock:
                return 200, {
                    "store": self.store,
                    "logins": self.logins,
                    "refreshes": self.refreshes,
                    "products": len(self.products),
                    "sales": list(self.sales.values()),
                }
        for route_method, pattern, handler, permission in self.ROUTES:
            match = re.fullmatch(pattern, path)
            if not match:
                continue
            if route_method != method:
                continue
            try:
                body = None
                if method in ("POST", "PUT", "PATCH"):
                    content_type = record["headers"].get("Content-Type") or ""
                    if not content_type.startswith("application/json"):
                        raise HqError(415, "Content-Type must be application/json")
                    try:
                        body = json.loads(raw or b"{}")
                    except ValueError:
                        raise HqError(400, "Malformed JSON body") from None
                    if not isinstance(body, dict):
                        raise HqError(400, "Body must be a JSON object")
                user = None
                if permission is not None:
                    user = self._authenticate(record)
                    if permission and permission not in user["permissions"]:
                        raise HqError(403, f"Missing permission: {permission}")
                with self.lock:
                    answer = getattr(self, handler)(
                        user=user, body=body, query=record["query"], **match.groupdict()
                    )
                status = 201 if method == "POST" and not path.startswith("/api/v1/auth") else 200
                return status, {"success": True, **answer}
            except HqError as exc:
                return exc.status, {"success": False, "error": exc.error}
        return 404, {"success": False, "error": f"Cannot {method} {path}"}

    # -- validation ----------------------------------------------------------------------------
    @staticmethod
    def _str(body, key, required=True, where=""):
        value = body.get(key)
        if value is None or value == "":
            if required:
                raise HqError(400, f"{where}{key} is required")
            return None
        if not isinstance(value, str):
            raise HqError(400, f"{where}{key} must be a string")
        return value

    @staticmethod
    def _int(body, key, required=True, minimum=None, where=""):
        value = body.get(key)
        if value is None:
            if required:
                raise HqError(400, f"{where}{key} is required")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise HqError(400, f"{where}{key} must be an integer")
        if minimum is not None and value < minimum:
            raise HqError(400, f"{where}{key} must be >= {minimum}")
        return value

    def _ref(self, table, body, key, label, required=False, where=""):
        value = self._str(body, key, required=required, where=where)
        if value is not None and value not in table:
            raise HqError(400, f"{where}{key}: unknown {label} {value}")
        return value

    @staticmethod
    def _page(items, query):
        try:
            page = max(int(query.get("page") or 1), 1)
            size = min(max(int(query.get("pageSize") or PAGE_SIZE), 1), MAX_PAGE_SIZE)
        except ValueError:
            raise HqError(400, "page and pageSize must be integers") from None
        start = (page - 1) * size
        return {
            "data": items[start : start + size],
            "total": len(items),
            "page": page,
            "pageSize": size,
        }

    # -- auth ----------------------------------------------------------------------------------
    def _login(self, body, **kw):
        username = self._str(body, "username")
        pin = body.get("pin")
        password = body.get("password")
        if not pin and not password:
            raise HqError(400, "pin or password is required")
        user = next((u for u in self.users.values() if u["username"] == username), None)
        secret_ok = user and (
            (pin and user["pin"] and pin == user["pin"])
            or (password and user["password"] and password == user["password"])
        )
        if not secret_ok or not user["isActive"]:
            raise HqError(401, "Invalid credentials")
        self.logins += 1
        access, refresh = self._issue(user)
        public = {k: user[k] for k in ("id", "username", "displayName", "isActive")}
        return {
            "data": {
                "accessToken": access,
                "refreshToken": refresh,
                "user": public,
                "permissions": list(user["permissions"]),
            }
        }

    def _refresh(self, body, **kw):
        token = self._str(body, "refreshToken")
        if token in self.revoked:
            raise HqError(401, "Refresh token revoked")
        user = self._decode(token, "refresh")
        self.revoked.add(token)  # rotation: a refresh token is used once
        self.refreshes += 1
        access, refresh = self._issue(user)
        return {"data": {"accessToken": access, "refreshToken": refresh}}

    def _me(self, user, **kw):
        public = {k: user[k] for k in ("id", "username", "displayName", "isActive")}
        return {"data": {"user": public, "permissions": list(user["permissions"])}}

    # -- reference data ------------------------------------------------------------------------
    def _list_stores(self, query, **kw):
        return self._page(list(self.stores.values()), query)

    def _public_user(self, user):
        return {k: user[k] for k in ("id", "username", "displayName", "isActive", "storeId")}

    def _list_users(self, query, **kw):
        return self._page([self._public_user(u) for u in self.users.values()], query)

    def _store_employees(self, user, **kw):
        return {
            "data": [
                self._public_user(u) for u in self.users.values() if u["storeId"] == user["storeId"]
            ]
        }

    def _list_tenders(self, **kw):
        return {"data": list(self.tenders.values())}

    def _list_departments(self, **kw):
        return {"data": list(self.departments.values())}

    def _create_department(self, body, **kw):
        name = self._str(body, "name")
        if any(d["name"] == name for d in self.departments.values()):
            raise HqError(409, f"Department {name} already exists")
        department = {"id": str(uuid.uuid4()), "name": name, "code": self._str(body, "code", False)}
        self.departments[department["id"]] = department
        return {"data": department}

    def _list_tax_groups(self, **kw):
        return {"data": list(self.tax_groups.values())}

    def _create_tax_group(self, body, **kw):
        name = self._str(body, "name")
        rates = body.get("rates")
        if not isinstance(rates, list):
            raise HqError(400, "rates is required (a list)")
        clean = []
        for index, rate in enumerate(rates):
            if not isinstance(rate, dict):
                raise HqError(400, f"rates[{index}] must be an object")
            where = f"rates[{index}]."
            clean.append(
                {
                    "name": self._str(rate, "name", where=where),
                    "rate": self._int(rate, "rate", minimum=0, where=where),
                    "isCompound": bool(rate.get("isCompound")),
                    "sortOrder": self._int(rate, "sortOrder", required=False, where=where) or 0,
                }
            )
        group = {"id": str(uuid.uuid4()), "name": name, "rates": clean}
        self.tax_groups[group["id"]] = group
        return {"data": group}

    # -- products ------------------------------------------------------------------------------
    def _product_values(self, body):
        values = {
            "sku": self._str(body, "sku", required=False),
            "barcode": self._str(body, "barcode", required=False),
            "name": self._str(body, "name"),
            "description": self._str(body, "description", required=False),
            "departmentId": self._ref(self.departments, body, "departmentId", "department"),
            "costPrice": self._int(body, "costPrice", minimum=0),
            "sellPrice": self._int(body, "sellPrice", minimum=0),
            "taxGroupId": self._ref(self.tax_groups, body, "taxGroupId", "tax group"),
            "trackStock": body.get("trackStock", False),
        }
        if not isinstance(values["trackStock"], bool):
            raise HqError(400, "trackStock must be a boolean")
        if not values["sku"] and not values["barcode"]:
            raise HqError(400, "sku or barcode is required")
        return values

    def _check_unique(self, values, product_id=None):
        for other in self.products.values():
            if other["id"] == product_id or not other["isActive"]:
                continue
            for key in ("sku", "barcode"):
                if values[key] and other[key] == values[key]:
                    raise HqError(409, f"A product with {key} {values[key]} already exists")

    def _list_products(self, query, **kw):
        items = list(self.products.values())
        if query.get("search"):
            items = [p for p in items if query["search"].lower() in (p["name"] or "").lower()]
        return self._page(items, query)

    def _create_product(self, body, **kw):
        values = self._product_values(body)
        self._check_unique(values)
        return {"data": self.add_product(**values)}

    def _product(self, rid):
        if rid not in self.products:
            raise HqError(404, "Product not found")
        return self.products[rid]

    def _get_product(self, rid, **kw):
        return {"data": self._product(rid)}

    def _by_barcode(self, barcode, **kw):
        for product in self.products.values():
            if product["barcode"] == barcode and product["isActive"]:
                return {"data": product}
        raise HqError(404, "Product not found")

    def _update_product(self, rid, body, **kw):
        product = self._product(rid)
        values = self._product_values(body)
        self._check_unique(values, rid)
        product.update(values)
        return {"data": product}

    def _toggle_product(self, rid, **kw):
        product = self._product(rid)
        product["isActive"] = not product["isActive"]
        return {"data": product}

    def _delete_product(self, rid, **kw):
        self._product(rid)["isActive"] = False
        return {"data": {"id": rid, "isActive": False}}

    # -- customers -----------------------------------------------------------------------------
    def _list_customers(self, query, **kw):
        return self._page(list(self.customers.values()), query)

    def _create_customer(self, body, **kw):
        customer = {"id": str(uuid.uuid4()), "name": self._str(body, "name")}
        for key in (
            "code",
            "email",
            "phone",
            "address",
            "city",
            "postcode",
            "country",
            "taxNumber",
        ):
            customer[key] = self._str(body, key, required=False)
        self.customers[customer["id"]] = customer
        return {"data": customer}

    # -- sales ---------------------------------------------------------------------------------
    def _list_sales(self, query, **kw):
        items = sorted(self.sales.values(), key=lambda s: s["createdAt"])
        try:
            start = query.get("date_from") and datetime.date.fromisoformat(query["date_from"])
            end = query.get("date_to") and datetime.date.fromisoformat(query["date_to"])
        except ValueError:
            raise HqError(400, "date_from and date_to must be YYYY-MM-DD") from None
        if start:
            items = [s for s in items if s["createdAt"][:10] >= start.isoformat()]
        if end:
            items = [s for s in items if s["createdAt"][:10] <= end.isoformat()]
        if query.get("store_id"):
            items = [s for s in items if s["storeId"] == query["store_id"]]
        if query.get("status"):
            items = [s for s in items if s["status"] == query["status"]]
        return self._page(items, query)

    def _create_sale(self, user, body, **kw):
        sale = {
            "receiptNumber": self._str(body, "receiptNumber"),
            "cashierId": self._ref(self.users, body, "cashierId", "user", required=True),
            "terminalId": self._str(body, "terminalId"),
            "storeId": self._ref(self.stores, body, "storeId", "store", required=True),
            "customerId": self._ref(self.customers, body, "customerId", "customer"),
            "salesRepId": self._str(body, "salesRepId", required=False),
        }
        for key in ("subtotal", "taxTotal", "grandTotal"):
            sale[key] = self._int(body, key)
        sale["discountTotal"] = self._int(body, "discountTotal")
        if any(s["receiptNumber"] == sale["receiptNumber"] for s in self.sales.values()):
            raise HqError(409, f"Receipt {sale['receiptNumber']} already exists")
        if sale["subtotal"] + sale["taxTotal"] != sale["grandTotal"]:
            raise HqError(400, "subtotal + taxTotal must equal grandTotal")
        sale["items"] = self._sale_items(body.get("items"))
        sale["payments"] = self._sale_payments(body.get("payments"))
        if sum(i["lineTotal"] for i in sale["items"]) != sale["grandTotal"]:
            raise HqError(400, "items lineTotal must sum to grandTotal")
        if sum(i["taxAmount"] for i in sale["items"]) != sale["taxTotal"]:
            raise HqError(400, "items taxAmount must sum to taxTotal")
        if sum(i["discountAmount"] for i in sale["items"]) != sale["discountTotal"]:
            raise HqError(400, "items discountAmount must sum to discountTotal")
        paid = sum(p["amount"] for p in sale["payments"])
        if sale["grandTotal"] >= 0:
            cash = sum(p["amount"] for p in sale["payments"] if p["method"] == "CASH")
            if paid < sale["grandTotal"] or paid - sale["grandTotal"] > max(cash, 0):
                raise HqError(400, "payments must cover grandTotal (change only from CASH)")
        elif paid != sale["grandTotal"]:
            raise HqError(400, "refund payments must equal grandTotal")
        sale.update(
            id=str(uuid.uuid4()),
            status="completed",
            createdAt=_iso(_now()),
            changeAmount=max(paid - sale["grandTotal"], 0),
        )
        self.sales[sale["id"]] = sale
        return {"data": sale}

    def _sale_items(self, items):
        if not isinstance(items, list) or not items:
            raise HqError(400, "items is required (a non-empty list)")
        clean = []
        for index, item in enumerate(items):
            where = f"items[{index}]."
            if not isinstance(item, dict):
                raise HqError(400, f"items[{index}] must be an object")
            line = {
                "productId": self._ref(self.products, item, "productId", "product", True, where),
                "productName": self._str(item, "productName", where=where),
                "quantity": self._int(item, "quantity", where=where),
                "unitPrice": self._int(item, "unitPrice", where=where),
                "taxRate": self._int(item, "taxRate", minimum=0, where=where),
                "taxAmount": self._int(item, "taxAmount", where=where),
                "discountAmount": self._int(item, "discountAmount", where=where),
                "lineTotal": self._int(item, "lineTotal", where=where),
            }
            if line["quantity"] == 0:
                raise HqError(400, f"{where}quantity must not be 0")
            gross = round(line["quantity"] * line["unitPrice"] / 1000)
            computed = gross - line["discountAmount"] + line["taxAmount"]
            # unitPrice is a whole cent: half a cent per unit, the rounding of the product and
            # a cent of tax moved between the order's lines
            tolerance = abs(line["quantity"]) / 2000 + 2
            if abs(computed - line["lineTotal"]) > tolerance:
                raise HqError(
                    400,
                    f"{where}lineTotal {line['lineTotal']} does not match "
                    f"quantity x unitPrice - discountAmount + taxAmount ({computed})",
                )
            taxes = item.get("taxes")
            if not isinstance(taxes, list):
                raise HqError(400, f"{where}taxes is required (a list)")
            line["taxes"] = []
            for number, tax in enumerate(taxes):
                tax_where = f"{where}taxes[{number}]."
                if not isinstance(tax, dict):
                    raise HqError(400, f"{where}taxes[{number}] must be an object")
                line["taxes"].append(
                    {
                        "taxRateName": self._str(tax, "taxRateName", where=tax_where),
                        "rate": self._int(tax, "rate", minimum=0, where=tax_where),
                        "taxAmount": self._int(tax, "taxAmount", where=tax_where),
                        "isCompound": tax.get("isCompound"),
                        "sortOrder": self._int(tax, "sortOrder", where=tax_where),
                    }
                )
                if not isinstance(tax.get("isCompound"), bool):
                    raise HqError(400, f"{tax_where}isCompound must be a boolean")
            if sum(t["taxAmount"] for t in line["taxes"]) != line["taxAmount"]:
                raise HqError(400, f"{where}taxes must sum to taxAmount")
            if line["taxes"] and sum(t["rate"] for t in line["taxes"]) != line["taxRate"]:
                raise HqError(400, f"{where}taxRate must be the sum of the taxes' rates")
            clean.append(line)
        return clean

    def _sale_payments(self, payments):
        if not isinstance(payments, list) or not payments:
            raise HqError(400, "payments is required (a non-empty list)")
        codes = {t["code"] for t in self.tenders.values() if t["isActive"]}
        clean = []
        for index, payment in enumerate(payments):
            where = f"payments[{index}]."
            if not isinstance(payment, dict):
                raise HqError(400, f"payments[{index}] must be an object")
            method = self._str(payment, "method", where=where)
            if method not in codes:
                raise HqError(400, f"{where}method: unknown tender {method}")
            clean.append(
                {
                    "method": method,
                    "amount": self._int(payment, "amount", where=where),
                    "reference": self._str(payment, "reference", required=False, where=where),
                }
            )
        return clean

    def _void_sale(self, rid, body, **kw):
        sale = self.sales.get(rid)
        if not sale:
            raise HqError(404, "Sale not found")
        if sale["status"] == "voided":
            raise HqError(400, "Sale already voided")
        sale.update(status="voided", voidedAt=_iso(_now()), voidReason=(body or {}).get("reason"))
        return {"data": sale}


def main():
    parser = argparse.ArgumentParser(description="An HQ server double on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--access-ttl", type=int, default=900, help="access token lifetime, s")
    args = parser.parse_args()
    double = HqDouble(access_ttl=args.access_ttl).start(args.port)
    print(f"PORT {double.server.server_address[1]}", flush=True)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            double.thread.join()
    finally:
        double.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
