import datetime
import hashlib
import json
import logging
import threading
import time

import psycopg2.errors

from odoo import SUPERUSER_ID, api, fields, models
from odoo.tools import SQL, ormcache

from ..tools import hq_mapper
from ..tools.delivery import DeliveryError, RetryableError
from ..tools.hq_client import HqClient, TokenStore
from .api_sync_sink import SinkConfig

_logger = logging.getLogger(__name__)

REQUIRED_PERMISSIONS = ("products.create", "products.edit", "pos.sell", "pos.void")
OPTIONAL_PERMISSIONS = (
    "products.view",
    "products.delete",
    "taxes.view",
    "taxes.manage",
    "customers.create",
    "tenders.view",
    "stores.view",
)
PAID_STATES = ("paid", "done", "invoiced")
RECORD_EVENTS = {e: e for e in ("record.created", "record.updated", "record.deleted")}
ORDER_EVENTS = {e: e for e in ("record.created", "record.updated", "state.changed")}
# fields the HQ bodies read: a change to any other field queues nothing
TEMPLATE_FIELDS = frozenset(
    {
        "name",
        "description_sale",
        "list_price",
        "standard_price",
        "categ_id",
        "pos_categ_ids",
        "taxes_id",
        "active",
        "available_in_pos",
        "is_storable",
        "default_code",
        "barcode",
    }
)
VARIANT_FIELDS = frozenset(
    {
        "default_code",
        "barcode",
        "active",
        "standard_price",
        "product_template_attribute_value_ids",
    }
)
ORDER_FIELDS = frozenset({"state"})
_TOKENS = {}  # (database, backend id) -> (access, refresh): this process's copy of the tokens
_LOCKS = {}  # (database, backend id, what) -> lock: one push of a dependency at a time
_LOCKS_GUARD = threading.Lock()
_LOGIN_USERS = {}  # (database, backend id, username) -> HQ user id
_TAX_GROUPS = {}  # (database, backend id) -> {rates signature: HQ tax group id}
_READ_AHEAD = {}  # (database, backend id) -> _ReadAhead
READ_AHEAD = 16  # queued orders whose sale documents are read with the one being sent, at most
READ_AHEAD_SECONDS = 10  # how long such a document is kept (and waited for), at most


def _lock(key):
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def _digest(body):
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class _BackendTokens(TokenStore):
    """Tokens of one backend: in this process's memory, and in ``api.sync.hq.session``
    (superuser only), written in their own committed transaction so that every worker reuses
    them."""

    def __init__(self, backend):
        super().__init__(key=(backend.env.cr.dbname, backend.id))
        self.registry = backend.env.registry
        self.backend_id = backend.id

    def load(self):
        tokens = _TOKENS.get(self.key)
        if tokens is None:
            with self.registry.cursor() as cr:
                cr.execute(
                    "SELECT access_token, refresh_token FROM api_sync_hq_session"
                    " WHERE backend_id = %s",
                    (self.backend_id,),
                )
                row = cr.fetchone()
            tokens = _TOKENS[self.key] = tuple(row) if row else (None, None)
        return tokens

    def save(self, access, refresh):
        _TOKENS[self.key] = (access, refresh)
        try:
            with self.registry.cursor() as cr:
                cr.execute(
                    """INSERT INTO api_sync_hq_session (backend_id, access_token, refresh_token,
                                                        create_date, write_date)
                       SELECT id, %s, %s, now() at time zone 'utc', now() at time zone 'utc'
                         FROM api_sync_hq_backend WHERE id = %s
                       ON CONFLICT (backend_id) DO UPDATE
                          SET access_token = EXCLUDED.access_token,
                              refresh_token = EXCLUDED.refresh_token,
                              write_date = EXCLUDED.write_date""",
                    (access, refresh, self.backend_id),
                )
        except psycopg2.Error:
            # another worker renewed them at the same moment: this process keeps its own
            _logger.info("HQ backend %s: tokens not shared this time", self.backend_id)


class _ReadAhead:
    """Sale documents of one backend's queued orders, read by a sender for the sends to come
    (any thread of the process): each is taken once, if its order is unchanged (same
    ``write_date``) and it is fresh, else read again.

    Reading many orders at once costs a fraction of reading them one by one: what they share
    (POS, taxes, products, payment methods) is read once."""

    def __init__(self):
        self.changed = threading.Condition()
        self.documents = {}  # order id -> (expiry, write date, document)
        self.reading = set()  # order ids a sender is reading now

    def take(self, order_id, write_date):
        """The document read ahead for this version of the order, or None; waits for it while
        another sender is reading it."""
        with self.changed:
            self.changed.wait_for(lambda: order_id not in self.reading, READ_AHEAD_SECONDS)
            expiry, version, document = self.documents.pop(order_id, (0, None, None))
        return document if version == write_date and expiry > time.monotonic() else None

    def reserve(self, order_ids):
        """Those of ``order_ids`` neither held nor being read: the caller reads them now."""
        with self.changed:
            now = time.monotonic()
            self.documents = {k: v for k, v in self.documents.items() if v[0] > now}
            free = [i for i in order_ids if i not in self.documents and i not in self.reading]
            self.reading.update(free)
        return free

    def store(self, order_ids, documents):
        """End the reading of ``order_ids``; keep ``documents`` ({id: (write date, doc)})."""
        with self.changed:
            expiry = time.monotonic() + READ_AHEAD_SECONDS
            for order_id, (write_date, document) in documents.items():
                self.documents[order_id] = (expiry, write_date, document)
            self.reading.difference_update(order_ids)
            self.changed.notify_all()


class ApiSyncHqBackend(models.Model):
    """An HQ server (``specs/hq-store-api.md``) the POS sales and products are pushed to.

    A sink of the outbox: product and POS order changes are queued as deliveries and the
    dispatcher calls :meth:`_sink_send`. Set up from the form, a data file or ``odoo shell``
    with the fields ``name``, ``base_url``, ``username``, ``pin``/``password``, ``store_id``,
    ``pos_config_ids``, ``default_cashier_id``, ``active``; actions
    :meth:`action_test_connection` and :meth:`action_push_all_products`.
    """

    _name = "api.sync.hq.backend"
    _inherit = [
        "api.sync.backend.mixin",
        "mail.thread",
        "mail.activity.mixin",
    ]
    _description = "API Sync HQ Backend"
    _order = "name, id"

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True, tracking=True)
    base_url = fields.Char(
        string="Base URL",
        required=True,
        tracking=True,
        help="e.g. https://hq.example.com (the API is under /api/v1)",
    )
    username = fields.Char(tracking=True)
    pin = fields.Char(string="PIN", groups="api_sync.group_api_sync_manager", copy=False)
    password = fields.Char(groups="api_sync.group_api_sync_manager", copy=False)
    store_id = fields.Char(string="HQ Store", tracking=True, help="uuid of the HQ store.")
    store_choice_id = fields.Many2one(
        "api.sync.hq.remote",
        string="Store",
        compute="_compute_choices",
        inverse="_inverse_store_choice",
        domain="[('backend_id', '=', id), ('kind', '=', 'store')]",
    )
    default_cashier_id = fields.Char(
        tracking=True,
        help="uuid of the HQ user a sale is made by when its Odoo cashier has no mapping; "
        "empty: the user the backend logs in as.",
    )
    default_cashier_choice_id = fields.Many2one(
        "api.sync.hq.remote",
        string="Default Cashier (HQ user)",
        compute="_compute_choices",
        inverse="_inverse_cashier_choice",
        domain="[('backend_id', '=', id), ('kind', '=', 'user')]",
    )
    timeout = fields.Integer(default=10, help="Seconds to wait for HQ on each request.")
    hq_user_id = fields.Char(string="HQ Login User", readonly=True, copy=False)
    permissions = fields.Char(readonly=True, copy=False, help="From the last login.")
    mapping_ids = fields.One2many("api.sync.hq.mapping", "backend_id", copy=True)
    terminal_mapping_ids = fields.One2many(
        "api.sync.hq.mapping",
        "backend_id",
        domain=[("kind", "=", "terminal")],
        context={"default_kind": "terminal"},
        string="Terminals",
    )
    cashier_mapping_ids = fields.One2many(
        "api.sync.hq.mapping",
        "backend_id",
        domain=[("kind", "=", "cashier")],
        context={"default_kind": "cashier"},
        string="Cashiers",
    )
    tender_mapping_ids = fields.One2many(
        "api.sync.hq.mapping",
        "backend_id",
        domain=[("kind", "=", "tender")],
        context={"default_kind": "tender"},
        string="Tenders",
    )
    remote_ids = fields.One2many("api.sync.hq.remote", "backend_id")

    # -- form helpers --------------------------------------------------------------------------
    @api.depends("store_id", "default_cashier_id", "remote_ids")
    def _compute_choices(self):
        for backend in self:
            remotes = backend.remote_ids
            backend.store_choice_id = remotes.filtered(
                lambda r, b=backend: r.kind == "store" and r.hq_id == b.store_id
            )[:1]
            backend.default_cashier_choice_id = remotes.filtered(
                lambda r, b=backend: r.kind == "user" and r.hq_id == b.default_cashier_id
            )[:1]

    def _inverse_store_choice(self):
        for backend in self:
            if backend.store_choice_id:
                backend.store_id = backend.store_choice_id.hq_id

    def _inverse_cashier_choice(self):
        for backend in self:
            backend.default_cashier_id = backend.default_cashier_choice_id.hq_id or False

    def write(self, vals):
        if {"base_url", "username", "pin", "password"} & set(vals):
            self.env["api.sync.hq.session"].sudo().search([("backend_id", "in", self.ids)]).unlink()
            for backend in self:
                _TOKENS.pop((self.env.cr.dbname, backend.id), None)
        return super().write(vals)

    # -- sink configuration --------------------------------------------------------------------
    @api.model
    @ormcache()
    def _sink_configs(self):
        """Products (template and variants) and the paid orders of the backend's POS."""
        configs = {}
        for backend in self.sudo().search([("state", "=", "active")]):
            owner = backend.user_id.id or SUPERUSER_ID
            order_domain = [("state", "in", PAID_STATES)]
            if backend.pos_config_ids:
                order_domain.append(("config_id", "in", backend.pos_config_ids.ids))
            else:
                order_domain.append(("company_id", "=", backend.company_id.id))
            for model_name, events, conditions, fields_ in (
                ("product.template", RECORD_EVENTS, [], TEMPLATE_FIELDS),
                ("product.product", RECORD_EVENTS, [], VARIANT_FIELDS),
                ("pos.order", ORDER_EVENTS, order_domain, ORDER_FIELDS),
            ):
                config = SinkConfig(self._name, backend.id, owner, events, conditions, (), fields_)
                configs.setdefault(model_name, []).append(config)
        return {model_name: tuple(items) for model_name, items in configs.items()}

    # -- client --------------------------------------------------------------------------------
    def _hq_client(self, session=None):
        self.ensure_one()
        backend = self.sudo()
        credentials = {
            "username": backend.username,
            "pin": backend.pin,
            "password": backend.password,
        }
        if backend.pin:
            credentials.pop("password")
        return HqClient(
            backend.base_url,
            credentials,
            tokens=_BackendTokens(backend),
            session=session,
            timeout=backend.timeout or 10,
            before_request=self._sink_commit,
        )

    # -- actions -------------------------------------------------------------------------------
    def _check_connection(self):
        """``/health``, a login, the permissions the connector needs (it raises when one is
        missing) and the stores, users and tenders HQ offers for the mappings."""
        self.ensure_one()
        client = self._hq_client()
        try:
            client.health()
            _TOKENS.pop(client.tokens.key, None)
            login = client.login()
            granted = set(login.get("permissions") or [])
            self.write(
                {"hq_user_id": login["user"]["id"], "permissions": ", ".join(sorted(granted))}
            )
            self._hq_load_remotes(client, granted)
        finally:
            client.session.close()
        missing = [p for p in REQUIRED_PERMISSIONS if p not in granted]
        if missing:
            raise DeliveryError(self.env._("missing HQ permissions: %s", ", ".join(missing)))
        if not self.store_id:
            raise DeliveryError(self.env._("HQ answers, but no HQ store is chosen"))
        message = self.env._("Connection OK: logged in as %s", login["user"].get("username"))
        optional = [p for p in OPTIONAL_PERMISSIONS if p not in granted]
        if optional:
            message += self.env._(" (not granted, needed by some pushes: %s)", ", ".join(optional))
        return message

    def action_test_connection(self):
        """Test connection; a backend paused for its credentials or permissions is resumed
        when the test passes."""
        result = super().action_test_connection()
        if result["params"]["type"] == "success" and self.state == "paused":
            self.sudo().write({"state": "active"})
        return result

    def _hq_load_remotes(self, client, granted):
        """Refresh the stores, users and tenders HQ offers (those the login may list)."""
        sources = [
            ("store", "/api/v1/stores", "stores.view"),
            ("user", "/api/v1/users/store-employees", None),
            ("tender", "/api/v1/tenders", "tenders.view"),
        ]
        Remote = self.env["api.sync.hq.remote"].sudo()
        for kind, path, permission in sources:
            if permission and permission not in granted:
                continue
            items = list(client.pages(path)) if kind == "store" else client.data("GET", path)
            known = {r.hq_id: r for r in self.remote_ids if r.kind == kind}
            for item in items:
                values = {
                    "name": item.get("name") or item.get("displayName") or item["id"],
                    "code": item.get("code") or item.get("username"),
                }
                if item["id"] in known:
                    known.pop(item["id"]).write(values)
                else:
                    Remote.create(
                        {**values, "backend_id": self.id, "kind": kind, "hq_id": item["id"]}
                    )
            Remote.browse([r.id for r in known.values()]).unlink()
            if kind == "store" and not self.store_id and len(items) == 1:
                self.store_id = items[0]["id"]

    # -- sink ----------------------------------------------------------------------------------
    def _sink_send(self, delivery, session):
        """Push the product or POS order of ``delivery`` to HQ; (status, excerpt)."""
        self.ensure_one()
        payload = delivery.payload
        model, res_id = payload["model"], payload["record_id"]
        client = self._hq_client(session)
        if model == "pos.order":
            return self._hq_push_order(client, self.env["pos.order"].browse(res_id), delivery)
        if model in ("product.template", "product.product"):
            record = self.env[model].with_context(active_test=False).browse(res_id).exists()
            template = record.product_tmpl_id if model == "product.product" else record
            if model == "product.product" and (payload["event"] == "record.deleted" or not record):
                return self._hq_archive_variants(client, [res_id])
            if not template:  # the template was deleted: its variants with it
                return self._hq_archive_variants(client, self._hq_deleted_variants())
            return self._hq_push_template(client, template)
        raise DeliveryError(f"HQ backend does not push {model} records")

    # -- bindings ------------------------------------------------------------------------------
    def _hq_bindings(self, res_model, ids):
        """{res_id: binding values} of records, read in a fresh transaction."""
        if not ids:
            return {}
        self._sink_commit()
        rows = self.env.execute_query(
            SQL(
                """SELECT res_id, external_id, sync_state, digest FROM api_sync_binding
                WHERE backend_model = %s AND backend_id = %s AND res_model = %s
                  AND res_id IN %s""",
                self._name,
                self.id,
                res_model,
                tuple(ids),
            )
        )
        return {
            row[0]: {"external_id": row[1], "sync_state": row[2], "digest": row[3]} for row in rows
        }

    def _hq_bind(self, res_model, res_id, **values):
        """Create or update the binding of one record and commit it (the sender's cursor); its
        company is the backend's, read by the statement (the cache is gone after a commit)."""
        values.setdefault("last_push_at", fields.Datetime.now())
        columns = list(values)
        self._sink_commit()
        self.env.execute_query(
            SQL(
                """INSERT INTO api_sync_binding (backend_model, backend_id, res_model, res_id, %s,
                                             company_id, create_uid, write_uid, create_date,
                                             write_date)
               SELECT %s, id, %s, %s, %s, company_id, %s, %s, now() at time zone 'utc',
                      now() at time zone 'utc'
                 FROM %s WHERE id = %s
               ON CONFLICT (backend_model, backend_id, res_model, res_id)
               DO UPDATE SET %s, company_id = EXCLUDED.company_id,
                             write_date = now() at time zone 'utc'""",
                SQL(", ").join(SQL.identifier(c) for c in columns),
                self._name,
                res_model,
                res_id,
                SQL(", ").join(SQL("%s", values[c]) for c in columns),
                self.env.uid,
                self.env.uid,
                SQL.identifier(self._table),
                self.id,
                SQL(", ").join(
                    SQL("%s = EXCLUDED.%s", SQL.identifier(c), SQL.identifier(c)) for c in columns
                ),
            )
        )
        self._sink_commit()
        self.env["api.sync.binding"].invalidate_model()

    # -- products ------------------------------------------------------------------------------
    def _hq_push_template(self, client, template):
        """Create, update or archive the HQ products of a template's variants."""
        document = template._api_sync_product_document()
        if not self._product_in_scope(template):
            return self._hq_archive_variants(client, [v["id"] for v in document["variants"]])
        department = self._hq_department(client, document.get("category"))
        tax_group = self._hq_tax_group(client, document.get("taxes") or [])
        results = []
        for variant in document["variants"]:
            try:
                body = hq_mapper.product_body(
                    document, variant, department_id=department, tax_group_id=tax_group
                )
            except hq_mapper.MappingError as exc:
                self._hq_bind(
                    "product.product", variant["id"], sync_state="failed", last_error=str(exc)
                )
                raise DeliveryError(str(exc)) from None
            results.append(self._hq_push_variant(client, variant["id"], body))
        pushed = {variant["id"] for variant in document["variants"]}
        gone = template.with_context(active_test=False).product_variant_ids.ids
        if set(gone) - pushed:  # archived variants of an active template
            results.append(self._hq_archive_variants(client, sorted(set(gone) - pushed))[1])
        return 200, "; ".join(results)

    def _hq_push_variant(self, client, variant_id, body):
        key = (self.env.cr.dbname, self.id, "product.product", variant_id)
        with _lock(key):
            binding = self._hq_bindings("product.product", [variant_id]).get(variant_id) or {}
            digest = _digest(body)
            hq_id = binding.get("external_id")
            if hq_id and binding.get("digest") == digest and binding.get("sync_state") == "synced":
                return f"{body['name']}: unchanged"
            if not hq_id and body["barcode"]:
                hq_id = self._hq_find_by_barcode(client, body["barcode"])
            if hq_id:
                product = client.data("PUT", f"/api/v1/products/{hq_id}", json=body)
                if product.get("isActive") is False:
                    client.data("PATCH", f"/api/v1/products/{hq_id}/toggle-active", json={})
                verb = "updated"
            else:
                try:
                    product = client.data("POST", "/api/v1/products", json=body)
                except DeliveryError as exc:
                    if exc.status != 409 or not body["barcode"]:
                        raise
                    hq_id = self._hq_find_by_barcode(client, body["barcode"])
                    if not hq_id:
                        raise
                    product = client.data("PUT", f"/api/v1/products/{hq_id}", json=body)
                verb = "created"
            self._hq_bind(
                "product.product",
                variant_id,
                external_id=product["id"],
                sync_state="synced",
                digest=digest,
                last_error=False,
            )
            return f"{body['name']}: {verb}"

    def _hq_find_by_barcode(self, client, barcode):
        try:
            return client.data("GET", f"/api/v1/products/barcode/{barcode}")["id"]
        except DeliveryError as exc:
            if exc.status == 404:
                return None
            raise

    def _hq_deleted_variants(self):
        """Ids of bound variants that no longer exist in Odoo."""
        rows = self.env.execute_query(
            SQL(
                """SELECT b.res_id FROM api_sync_binding b
                    WHERE b.backend_model = %s AND b.backend_id = %s
                      AND b.res_model = 'product.product' AND b.sync_state != 'deleted'
                      AND NOT EXISTS (SELECT 1 FROM product_product p WHERE p.id = b.res_id)""",
                self._name,
                self.id,
            )
        )
        return [row[0] for row in rows]

    def _hq_archive_variants(self, client, variant_ids):
        """Soft-delete the bound HQ products of these variants."""
        bindings = self._hq_bindings("product.product", variant_ids)
        archived = []
        for variant_id, binding in bindings.items():
            if not binding["external_id"] or binding["sync_state"] == "deleted":
                continue
            try:
                client.data("DELETE", f"/api/v1/products/{binding['external_id']}")
            except DeliveryError as exc:
                if exc.status != 404:
                    raise
            self._hq_bind("product.product", variant_id, sync_state="deleted", digest=False)
            archived.append(binding["external_id"])
        return 200, f"archived {len(archived)} HQ product(s)"

    def _hq_department(self, client, category):
        """HQ department id of a product category, created once and bound."""
        if not category:
            return None
        res_model = category.get("model") or "product.category"
        key = (self.env.cr.dbname, self.id, res_model, category["id"])
        with _lock(key):
            binding = self._hq_bindings(res_model, [category["id"]]).get(category["id"])
            if binding and binding["external_id"]:
                return binding["external_id"]
            body = hq_mapper.department_body(category)
            existing = [
                d for d in client.data("GET", "/api/v1/departments") if d["name"] == body["name"]
            ]
            department = (
                existing[0] if existing else client.data("POST", "/api/v1/departments", json=body)
            )
            self._hq_bind(
                res_model,
                category["id"],
                external_id=department["id"],
                sync_state="synced",
                digest=_digest(body),
            )
            return department["id"]

    def _hq_tax_group(self, client, taxes):
        """HQ tax group with the rates of a product's taxes: an existing group with the same
        rates, else one created once; bound on the product's first tax when it is alone."""
        if not taxes:
            return None
        body = hq_mapper.tax_group_body(taxes)
        signature = hq_mapper.tax_group_signature(body["rates"])
        key = (self.env.cr.dbname, self.id, "tax.group", signature)
        with _lock(key):
            cache = _TAX_GROUPS.setdefault((self.env.cr.dbname, self.id), {})
            if signature in cache:
                return cache[signature]
            groups = client.data("GET", "/api/v1/taxes/groups")
            found = [g for g in groups if hq_mapper.tax_group_signature(g["rates"]) == signature]
            group = found[0] if found else client.data("POST", "/api/v1/taxes/groups", json=body)
            cache[signature] = group["id"]
            if len(taxes) == 1:
                self._hq_bind(
                    "account.tax",
                    taxes[0]["id"],
                    external_id=group["id"],
                    sync_state="synced",
                    digest=_digest(body),
                )
            return group["id"]

    # -- POS orders ----------------------------------------------------------------------------
    def _hq_push_order(self, client, order, delivery):
        # what the dispatcher read of the delivery: the binding's fresh transaction drops the
        # cache (the order is read after it)
        attempted = delivery.attempts or delivery.last_error
        binding = self._hq_bindings("pos.order", [order.id]).get(order.id) or {}
        if binding.get("sync_state") in ("synced", "voided") and binding.get("external_id"):
            return 200, f"already in HQ as {binding['external_id']}"
        order = order.exists()
        if not order or order.state not in PAID_STATES:
            return 200, "not paid: nothing to push"
        document = self._hq_sale_document(order)
        notes = []
        maybe_sent = (
            bool(attempted)
            or binding.get("sync_state") == "sending"
            or self._hq_failed_before(delivery, order)
        )
        if document["is_refund"] and document["refunded_order_id"]:
            original = self.env["pos.order"].browse(document["refunded_order_id"])
            original_sale = self._hq_sale_of(client, original)
            original_document = original._api_sync_sale_document()
            if hq_mapper.is_full_refund(document, original_document):
                return self._hq_void(client, order, original, original_sale, maybe_sent)
            receipt = hq_mapper.refund_receipt(
                document["reference"], original_document["reference"]
            )
        else:
            receipt = document["reference"]
        sale_id = self._hq_post_sale(client, order, document, receipt, maybe_sent, notes, binding)
        return 201, "; ".join([f"sale {sale_id}", *notes])

    def _hq_sale_document(self, order):
        """The sale document of ``order`` (existing, paid): read ahead by an earlier send, else
        read now along with those of the next orders queued for this backend, which are kept
        for their own sends (see :class:`_ReadAhead`)."""
        with _LOCKS_GUARD:
            ahead = _READ_AHEAD.setdefault((self.env.cr.dbname, self.id), _ReadAhead())
        document = ahead.take(order.id, order.write_date)
        if document is not None:
            return document
        queued = ahead.reserve(self._hq_queued_orders(order))
        others, documents = self.env["pos.order"], {}
        try:
            others = others.search_fetch(
                [("id", "in", queued), ("state", "in", PAID_STATES)], ["write_date"]
            )
            documents = self._hq_read_documents(order, others)
        finally:
            ahead.store(
                queued, {o.id: (o.write_date, documents[o.id]) for o in others if o.id in documents}
            )
        return documents[order.id]

    def _hq_read_documents(self, order, others):
        """{order id: sale document} of ``order`` and ``others``, or of ``order`` alone when
        one of the others cannot be read: that one fails its own send, not this one."""
        if others:
            try:
                with self.env.cr.savepoint():
                    return (order | others)._api_sync_sale_documents()
            except Exception:  # noqa: BLE001 -- whatever it is, ``order`` is read alone
                _logger.info("HQ backend %s: orders %s not read ahead", self.id, others.ids)
        return order._api_sync_sale_documents()

    def _hq_queued_orders(self, order):
        """Ids of the next orders (besides ``order``) queued for this backend, not in HQ yet."""
        rows = self.env.execute_query(
            SQL(
                """SELECT (d.payload->>'record_id')::int FROM api_sync_delivery d
                    WHERE d.sink_model = %(sink)s AND d.sink_id = %(id)s
                      AND d.state IN ('pending', 'retry') AND d.next_attempt_at <= %(now)s
                      AND d.payload->>'model' = 'pos.order'
                      AND NOT EXISTS (
                          SELECT 1 FROM api_sync_binding b
                           WHERE b.backend_model = %(sink)s AND b.backend_id = %(id)s
                             AND b.res_model = 'pos.order'
                             AND b.res_id = (d.payload->>'record_id')::int
                             AND b.sync_state IN ('synced', 'voided'))
                    ORDER BY d.id LIMIT %(limit)s""",
                sink=self._name,
                id=self.id,
                now=fields.Datetime.now(),
                limit=READ_AHEAD,
            )
        )
        return list(dict.fromkeys(row[0] for row in rows if row[0] != order.id))

    def _hq_failed_before(self, delivery, order):
        """Whether an earlier delivery of this order failed, possibly after HQ got it; found
        through the order's events (indexed, the deliveries' record keys are not)."""
        return bool(
            self.env["api.sync.delivery"]
            .sudo()
            .search_count(
                [
                    ("event_id", "any", [("model", "=", order._name), ("res_id", "=", order.id)]),
                    ("sink_model", "=", self._name),
                    ("sink_id", "=", self.id),
                    ("id", "!=", delivery.id),
                    ("last_error", "!=", False),
                ],
                limit=1,
            )
        )

    def _hq_sale_of(self, client, order):
        """HQ sale id of an order, pushing it first when it is not there yet."""
        binding = self._hq_bindings("pos.order", [order.id]).get(order.id) or {}
        if binding.get("external_id") and binding.get("sync_state") in ("synced", "voided"):
            return binding["external_id"]
        document = order._api_sync_sale_document()
        maybe_sent = binding.get("sync_state") == "sending"
        return self._hq_post_sale(client, order, document, document["reference"], maybe_sent, [])

    def _hq_void(self, client, refund, original, sale_id, maybe_sent):
        """A full refund: void the original sale (once)."""
        state = self._hq_bindings("pos.order", [original.id]).get(original.id) or {}
        if state.get("sync_state") != "voided":
            if maybe_sent:
                # a void may have gone through before an ambiguous failure: look first
                found = self._hq_find_sale(
                    client, original._api_sync_sale_document(), original.pos_reference
                )
                already = found and found.get("status") == "voided"
            else:
                already = False
            if not already:
                self._hq_bind("pos.order", refund.id, sync_state="sending")
                try:
                    client.data(
                        "PUT",
                        f"/api/v1/sales/{sale_id}/void",
                        json={"reason": f"Refunded by {refund.pos_reference}"},
                    )
                except DeliveryError as exc:
                    if not isinstance(exc, RetryableError):
                        self._hq_bind(
                            "pos.order", refund.id, sync_state="failed", last_error=str(exc)
                        )
                    raise
            self._hq_bind("pos.order", original.id, external_id=sale_id, sync_state="voided")
        self._hq_bind(
            "pos.order", refund.id, external_id=sale_id, sync_state="voided", last_error=False
        )
        return 200, f"sale {sale_id} voided"

    def _hq_post_sale(self, client, order, document, receipt, maybe_sent, notes, binding=None):
        """POST the sale once: after a failure that may have reached HQ, look for the receipt
        among the store's sales first."""
        key = (self.env.cr.dbname, self.id, "pos.order", order.id)
        with _lock(key):
            if binding is None:
                binding = self._hq_bindings("pos.order", [order.id]).get(order.id) or {}
            if binding.get("external_id") and binding.get("sync_state") in ("synced", "voided"):
                return binding["external_id"]
            if maybe_sent or binding.get("sync_state") == "sending":
                found = self._hq_find_sale(client, document, receipt)
                if found:
                    self._hq_bind(
                        "pos.order",
                        order.id,
                        external_id=found["id"],
                        sync_state="synced",
                        last_error=False,
                    )
                    notes.append("found in HQ after an interrupted push")
                    return found["id"]
            try:
                body = self._hq_sale_body(client, document, receipt, notes)
            except hq_mapper.MappingError as exc:
                self._hq_bind("pos.order", order.id, sync_state="failed", last_error=str(exc))
                raise DeliveryError(str(exc)) from None
            self._hq_bind("pos.order", order.id, sync_state="sending", digest=_digest(body))
            try:
                sale = client.data("POST", "/api/v1/sales", json=body)
            except RetryableError:
                raise  # stays "sending": the next attempt looks for the receipt first
            except DeliveryError as exc:
                if exc.status == 409:  # the receipt is there already (another worker, a retry)
                    found = self._hq_find_sale(client, document, receipt)
                    if found:
                        self._hq_bind(
                            "pos.order",
                            order.id,
                            external_id=found["id"],
                            sync_state="synced",
                            last_error=False,
                        )
                        return found["id"]
                self._hq_bind("pos.order", order.id, sync_state="failed", last_error=str(exc))
                raise
            self._hq_bind(
                "pos.order", order.id, external_id=sale["id"], sync_state="synced", last_error=False
            )
            return sale["id"]

    def _hq_find_sale(self, client, document, receipt):
        """The HQ sale of ``receipt`` among the store's sales around the order's day."""
        closed = datetime.date.fromisoformat(
            (document.get("closed_at") or "")[:10] or fields.Date.today().isoformat()
        )
        params = {
            "date_from": (closed - datetime.timedelta(days=1)).isoformat(),
            "date_to": (fields.Date.today() + datetime.timedelta(days=1)).isoformat(),
            "store_id": self.store_id,
        }
        for sale in client.pages("/api/v1/sales", params=params):
            if sale.get("receiptNumber") == receipt:
                return sale
        return None

    def _hq_sale_body(self, client, document, receipt, notes):
        # what comes from the backend's own fields first: the reads of the bindings commit,
        # which drops the cache
        store_id = self.store_id
        if not store_id:
            raise hq_mapper.MappingError("the HQ backend has no store")
        mappings = self._hq_mappings()
        terminal_id = self._hq_terminal(document, mappings)
        cashier_id = self._hq_cashier(client, document, notes, mappings)
        tenders = self._hq_tenders(client, document, mappings)
        return hq_mapper.sale_body(
            document,
            receipt=receipt,
            store_id=store_id,
            terminal_id=terminal_id,
            cashier_id=cashier_id,
            customer_id=self._hq_customer(client, document.get("customer")),
            product_ids=self._hq_ensure_products(client, document),
            tenders=tenders,
        )

    def _hq_ensure_products(self, client, document):
        """{product id: HQ id} of the order's products, pushing the unbound ones now."""
        product_ids = {line["product_id"] for line in document["lines"]}
        bindings = self._hq_bindings("product.product", list(product_ids))
        result = {
            pid: b["external_id"]
            for pid, b in bindings.items()
            if b["external_id"] and b["sync_state"] == "synced"
        }
        missing = self.env["product.product"].browse(sorted(product_ids - set(result)))
        for template in missing.product_tmpl_id:
            self._hq_push_template(client, template)
        if missing:
            bindings = self._hq_bindings("product.product", missing.ids)
            for product in missing:
                external = bindings.get(product.id, {}).get("external_id")
                if not external:
                    raise hq_mapper.MappingError(
                        f"product {product.display_name!r} could not be pushed to HQ"
                    )
                result[product.id] = external
        return result

    def _hq_customer(self, client, customer):
        if not customer:
            return None
        key = (self.env.cr.dbname, self.id, "res.partner", customer["id"])
        with _lock(key):
            binding = self._hq_bindings("res.partner", [customer["id"]]).get(customer["id"])
            if binding and binding["external_id"]:
                return binding["external_id"]
            body = hq_mapper.customer_body(customer)
            created = client.data("POST", "/api/v1/customers", json=body)
            self._hq_bind(
                "res.partner",
                customer["id"],
                external_id=created["id"],
                sync_state="synced",
                digest=_digest(body),
            )
            return created["id"]

    # -- mappings ------------------------------------------------------------------------------
    def _hq_mappings(self):
        """{(kind, "model,id"): (HQ value, is default)} of this backend, read at once."""
        rows = self.env.execute_query(
            SQL(
                "SELECT kind, odoo_ref, hq_value, is_default FROM api_sync_hq_mapping"
                " WHERE backend_id = %s",
                self.id,
            )
        )
        return {(kind, ref): (value, bool(default)) for kind, ref, value, default in rows}

    def _hq_record_default(self, mappings, kind, ref, odoo_name, value, hq_name=None):
        """Record a default mapping (first use); another sender may be doing it right now."""
        mappings[kind, ref] = (value, True)
        query = SQL(
            """INSERT INTO api_sync_hq_mapping (backend_id, kind, odoo_ref, odoo_name, hq_value,
                      hq_name, is_default, company_id, create_uid, write_uid, create_date,
                      write_date)
               VALUES (%s, %s, %s, %s, %s, %s, TRUE, %s, %s, %s, now() at time zone 'utc',
                       now() at time zone 'utc')
               ON CONFLICT (backend_id, kind, odoo_ref) DO NOTHING""",
            self.id,
            kind,
            ref,
            odoo_name,
            value,
            hq_name,
            self.company_id.id or None,
            self.env.uid,
            self.env.uid,
        )
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(query, log_exceptions=False)
        except psycopg2.errors.SerializationFailure:
            # another sender recorded it at the same moment: its mapping stays
            _logger.debug("HQ backend %s: %s default recorded meanwhile", self.id, kind)
        self.env["api.sync.hq.mapping"].invalidate_model()

    def _hq_terminal(self, document, mappings):
        ref = f"pos.config,{document['config_id']}"
        if ("terminal", ref) in mappings:
            return mappings["terminal", ref][0]
        value = (document.get("config_name") or f"POS {document['config_id']}")[:32]
        self._hq_record_default(mappings, "terminal", ref, document.get("config_name"), value)
        return value

    def _hq_cashier(self, client, document, notes, mappings):
        if document.get("employee_id"):
            ref, name = f"hr.employee,{document['employee_id']}", document.get("employee_name")
        elif document.get("user_id"):
            ref, name = f"res.users,{document['user_id']}", document.get("user_name")
        else:
            ref, name = None, self.env._("unknown cashier")
        mapped = mappings.get(("cashier", ref))
        if mapped and not mapped[1]:
            return mapped[0]
        default = self.default_cashier_id or self.hq_user_id or self._hq_login_user(client)
        if ref and not mapped:
            self._hq_record_default(mappings, "cashier", ref, name, default)
        notes.append(f"default HQ cashier used for {name}")
        return default

    def _hq_login_user(self, client):
        """HQ id of the user the backend logs in as (asked once per process)."""
        key = (self.env.cr.dbname, self.id, client.credentials.get("username"))
        if key not in _LOGIN_USERS:
            _LOGIN_USERS[key] = client.data("GET", "/api/v1/auth/me")["user"]["id"]
        return _LOGIN_USERS[key]

    def _hq_tenders(self, client, document, mappings):
        """{POS payment method id: HQ tender code}, defaults recorded on first use."""
        result, unmapped = {}, {}
        for payment in document["payments"]:
            ref = f"pos.payment.method,{payment['method_id']}"
            if ("tender", ref) in mappings:
                result[payment["method_id"]] = mappings["tender", ref][0]
            else:
                unmapped[payment["method_id"]] = payment
        if unmapped:
            tenders = client.data("GET", "/api/v1/tenders")
            by_name = {
                (t.get("name") or "").casefold(): t for t in tenders if t.get("isActive", True)
            }
            codes = {t.get("code") for t in tenders}
            for method_id, payment in unmapped.items():
                tender = by_name.get((payment["method_name"] or "").casefold())
                code = tender and tender["code"]
                if not code:
                    code = {"cash": "CASH", "bank": "CARD"}.get(payment["method_type"])
                    if code not in codes:
                        continue  # no tender: the mapper names the method
                self._hq_record_default(
                    mappings, "tender", f"pos.payment.method,{method_id}",
                    payment["method_name"], code, tender and tender.get("name"),
                )  # fmt: skip
                result[method_id] = code
        return result
