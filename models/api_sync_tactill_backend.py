import time

from odoo import api, fields, models
from odoo.tools import ormcache

from ..tools.delivery import DeliveryError, RetryableError
from ..tools.tactill_client import DEFAULT_PATHS, TactillClient
from ..tools.tactill_exporter import SALE_STATES, TactillExporter
from .api_sync_sink import SinkConfig

LIVE_EVENTS = {"record.created": "record.created", "record.updated": "record.updated"}
ALL_EVENTS = {**LIVE_EVENTS, "record.deleted": "record.deleted"}
# variants are created with their template, or by a change of its attributes (a template event)
VARIANT_EVENTS = {"record.updated": "record.updated", "record.deleted": "record.deleted"}
# the fields the product and sale mappings read: a change to any other field queues nothing
TEMPLATE_FIELDS = frozenset({
    "name", "list_price", "standard_price", "default_code", "barcode", "categ_id",
    "pos_categ_ids", "taxes_id", "active", "available_in_pos", "sale_ok", "attribute_line_ids",
})  # fmt: skip
VARIANT_FIELDS = frozenset({
    "default_code", "barcode", "standard_price", "active", "lst_price",
    "product_template_attribute_value_ids", "product_tmpl_id",
})  # fmt: skip
ORDER_FIELDS = frozenset({
    "state", "partner_id", "lines", "payment_ids", "amount_total", "amount_tax", "amount_paid",
    "pos_reference", "date_order", "sequence_number", "is_refund",
})  # fmt: skip
MAX_BUDGET_WAIT = 30  # seconds a sender waits for the write budget before retrying later


class ApiSyncTactillBackend(models.Model):
    """A Tactill account Odoo pushes its catalogue and paid POS orders to.

    Set up from the form, a data file or ``odoo shell`` with these names::

        env["api.sync.tactill.backend"].create({
            "name": "Shop", "base_url": "https://api.tactill.com", "api_key": "v5_...",
            "shop_id": "...", "source_id": "odoo", "source_name": "Odoo",
            "pos_config_ids": [(6, 0, config_ids)], "write_budget": 3000, "write_window": 600,
        })

    An active backend is all it takes for the next paid order to be pushed.
    """

    _name = "api.sync.tactill.backend"
    _description = "Tactill Backend"
    _inherit = ["api.sync.backend.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "name, id"

    base_url = fields.Char(string="Base URL", required=True, default="https://api.tactill.com")
    api_key = fields.Char(
        string="API Key", groups="api_sync.group_api_sync_manager", copy=False,
        help="X-Api-Key (v5_...): stored, never shown back in full.",
    )  # fmt: skip
    api_key_hint = fields.Char(string="Current API Key", compute="_compute_api_key_hint")
    new_api_key = fields.Char(
        string="Set API Key", compute="_compute_new_api_key", inverse="_inverse_new_api_key",
        groups="api_sync.group_api_sync_manager",
        help="The form writes the key here; it is never read back.",
    )  # fmt: skip
    key_mode = fields.Selection(
        [("test", "Test"), ("production", "Production")], readonly=True,
        help="The environment of the key, as the last Test connection found it.",
    )  # fmt: skip
    shop_id = fields.Char(string="Shop ID", required=True)
    source_id = fields.Char(string="Source ID", required=True, default="odoo")
    source_name = fields.Char(required=True, default="Odoo")
    write_budget = fields.Integer(
        default=3000, required=True, help="Non-GET requests allowed per window."
    )
    write_window = fields.Integer(string="Write Window (s)", default=600, required=True)
    timeout = fields.Integer(string="Timeout (s)", default=10, required=True)
    paths = fields.Json(
        help="Overrides of the client's path table, e.g. "
        '{"sale.create": "POST /v0/sales"}. Operations: ' + ", ".join(DEFAULT_PATHS)
    )
    payment_method_map = fields.Json(
        help='POS payment method id -> Tactill payment method type, e.g. {"3": "CHECK"}; '
        "default: CASH for cash methods, CARD for bank ones, OTHER otherwise."
    )

    @api.depends("api_key")
    @api.depends_context("uid")
    def _compute_api_key_hint(self):
        for backend in self:
            key = backend.sudo().api_key or ""
            backend.api_key_hint = f"{key[:3]}…{key[-4:]}" if len(key) > 10 else (
                "…" if key else False
            )  # fmt: skip

    def _compute_new_api_key(self):
        self.new_api_key = False

    def _inverse_new_api_key(self):
        for backend in self.filtered("new_api_key"):
            backend.api_key = backend.new_api_key

    # -- sink ------------------------------------------------------------------------------------
    @api.model
    @ormcache()
    def _sink_configs(self):
        configs = {}
        for backend in self.sudo().search([("state", "=", "active")]):
            order_domain = [("state", "in", SALE_STATES)]
            if backend.pos_config_ids:
                order_domain.append(("config_id", "in", backend.pos_config_ids.ids))
            owner = backend.user_id.id
            for model_name, events, conditions, trigger in (
                ("product.template", ALL_EVENTS, [], TEMPLATE_FIELDS),
                ("product.product", VARIANT_EVENTS, [], VARIANT_FIELDS),
                ("pos.order", LIVE_EVENTS, order_domain, ORDER_FIELDS),
            ):
                configs.setdefault(model_name, []).append(SinkConfig(
                    self._name, backend.id, owner, events, conditions, (), trigger,
                ))  # fmt: skip
        return {model_name: tuple(items) for model_name, items in configs.items()}

    def _rate_budget(self):
        return self.write_budget, self.write_window

    def _client(self, session=None):
        """The HTTP client, with the rate budget taken before each write."""
        Budget = self.env["api.sync.rate.budget"]

        def before_write(n):
            while wait := Budget._take(self, n):
                if wait > MAX_BUDGET_WAIT:
                    raise RetryableError(
                        self.env._("Write budget spent: next write in %(s)s s", s=round(wait)),
                        seconds=wait,
                    )
                self._sink_commit()
                time.sleep(wait)

        def after_limited(seconds):
            if seconds:
                Budget._block_until(self, time.time() + seconds)

        return TactillClient(
            self.base_url, self.sudo().api_key, session=session, paths=self.paths or {},
            timeout=self.timeout, before_write=before_write, after_limited=after_limited,
        )  # fmt: skip

    def _sink_send(self, delivery, session):
        """Push the record of ``delivery`` (product or POS order) with its dependencies."""
        self.ensure_one()
        event = delivery.event_id
        exporter = TactillExporter(self, self._client(session), retrying=delivery.attempts > 0)
        Model = self.env[event.model].with_user(self.user_id).with_context(active_test=False)
        record = Model.browse(event.res_id)
        res_model = event.model
        if event.model == "product.product":
            if not delivery.record_key.startswith("product.template,"):
                return 200, "variant deleted with its template: nothing to send"
            template_id = int(delivery.record_key.split(",")[1])
            record, res_model = Model.env["product.template"].browse(template_id), "product.template"
        try:
            if res_model == "product.template":
                summary = exporter.push_template(record)
            elif res_model == "pos.order":
                record = record.exists()
                summary = exporter.push_sale(record) if record else "order deleted"
            else:
                summary = f"nothing to do for {event.model}"
        except DeliveryError as exc:
            self.env["api.sync.binding"]._record_error(self, res_model, record.id, str(exc))
            raise
        return 200, summary

    def _check_connection(self):
        client = self._client()
        found = None
        for operation in ("category.search", "tax.search", "product.search"):
            items = client.call(operation, {"limit": 1}).get("items") or []
            if items:
                found = items[0]
                break
        if found is None:
            self.key_mode = False
            return self.env._("Connected: the key is accepted (no data yet to tell its mode).")
        self.key_mode = "test" if found.get("test") else "production"
        if self.key_mode == "test":
            return self.env._("Connected with a TEST key: pushes go to test data.")
        return self.env._("Connected with a PRODUCTION key.")
