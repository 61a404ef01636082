import math

from odoo import fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..tools.delivery import DeliveryError

PUSH_ALL_CHUNK = 1000


class ApiSyncBackendMixin(models.AbstractModel):
    """What every connector backend shares (Tactill, HQ): a sink of the outbox carrying some
    POS configs and products, bound records, *Push all products*, *Test connection*.

    A concrete backend implements ``_rate_budget()``, ``_sink_configs()`` (from
    :meth:`_backend_sink_configs`), ``_sink_send()`` and ``_check_connection()``.
    """

    _name = "api.sync.backend.mixin"
    _inherit = ["api.sync.sink.mixin"]
    _description = "API Sync Connector Backend"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True
    )
    user_id = fields.Many2one(
        "res.users",
        string="Read As",
        required=True,
        default=lambda self: self.env.ref("base.user_root"),
        help="Records are read as this user when they are pushed.",
    )
    pos_config_ids = fields.Many2many(
        "pos.config", string="POS", help="Orders of these POS are pushed; empty: all POS."
    )
    product_scope = fields.Selection(
        [("pos", "Products available in POS"), ("sale", "All products that can be sold")],
        default="pos",
        required=True,
    )
    binding_count = fields.Integer(compute="_compute_binding_count")
    last_test_result = fields.Char(readonly=True)
    push_all_total = fields.Integer(readonly=True)
    push_all_queued_at = fields.Datetime(readonly=True)
    push_all_progress = fields.Float(compute="_compute_push_all", help="Percent pushed.")
    push_all_eta = fields.Char(
        string="Time Needed", compute="_compute_push_all", help="At the write budget."
    )

    def _compute_binding_count(self):
        groups = self.env["api.sync.binding"].sudo()._read_group(
            [("backend_model", "=", self._name), ("backend_id", "in", self.ids),
             ("external_id", "!=", False)],
            ["backend_id"], ["__count"],
        )  # fmt: skip
        counts = dict(groups)
        for backend in self:
            backend.binding_count = counts.get(backend.id, 0)

    def _compute_push_all(self):
        Delivery = self.env["api.sync.delivery"].sudo()
        for backend in self:
            backend.push_all_progress = 0.0
            backend.push_all_eta = False
            if not backend.push_all_total or not backend.push_all_queued_at:
                continue
            left = Delivery.search_count([
                ("sink_model", "=", backend._name), ("sink_id", "=", backend.id),
                ("state", "not in", ("done", "dead")),
                ("event_id.model", "=", "product.template"),
                ("create_date", ">=", backend.push_all_queued_at),
            ])  # fmt: skip
            total = backend.push_all_total
            backend.push_all_progress = 100.0 * (total - min(left, total)) / total
            limit, window = backend._rate_budget()
            if limit and left:
                seconds = math.ceil(left * backend._writes_per_product() / limit) * window
                backend.push_all_eta = self.env._("about %(m)s min", m=math.ceil(seconds / 60))

    # -- to implement --------------------------------------------------------------------------
    def _rate_budget(self):
        """(requests, seconds): at most that many writes per window; (0, 0) for no limit."""
        return 0, 0

    def _writes_per_product(self):
        return 1

    def _check_connection(self):
        """A message saying whether the backend answers and accepts the credentials; raises
        a ``DeliveryError`` when it does not."""
        raise NotImplementedError

    # -- sink ------------------------------------------------------------------------------------
    def _sink_record_keys(self, model_name, ids):
        """Variants queue behind their template: one product's pushes never cross."""
        keys = super()._sink_record_keys(model_name, ids)
        if model_name == "product.product" and ids:
            rows = self.env.execute_query(SQL(
                "SELECT id, product_tmpl_id FROM product_product WHERE id IN %s", tuple(ids)
            ))  # fmt: skip
            keys.update({pid: f"product.template,{tmpl}" for pid, tmpl in rows})
        return keys

    def _product_in_scope(self, template):
        if not template.active:
            return False
        if self.product_scope == "pos":
            return template.available_in_pos
        return template.sale_ok

    def _sink_stopped(self, state, reason):
        """Paused or disabled by the dispatcher: the managers get an activity."""
        managers = self.env.ref("api_sync.group_api_sync_manager").sudo().all_user_ids
        managers = managers.filtered(lambda user: user.active and not user.share)
        for user in managers:
            self.sudo().activity_schedule(
                "mail.mail_activity_data_warning",
                user_id=user.id,
                summary=self.env._("%(b)s %(s)s", b=self.display_name, s=state),
                note=reason,
            )

    # -- actions ---------------------------------------------------------------------------------
    def _check_manager(self):
        if not self.env.user.has_group("api_sync.group_api_sync_manager"):
            raise AccessError(self.env._("Only API Sync managers can do this."))
        self.check_access("write")

    def action_test_connection(self):
        """Call the backend with its credentials and say what it answered."""
        self.ensure_one()
        self._check_manager()
        try:
            message, kind = self.sudo()._check_connection(), "success"
        except DeliveryError as exc:
            message, kind = str(exc), "danger"
        self.sudo().last_test_result = message
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"title": self.display_name, "message": message, "type": kind,
                       "sticky": kind == "danger"},
        }  # fmt: skip

    def action_push_all_products(self):
        """Queue every product this backend carries (first sync), through the outbox: chunked
        by the dispatcher, resumable (queued deliveries survive restarts), progress shown."""
        self.ensure_one()
        self._check_manager()
        backend = self.sudo()
        Template = self.env["product.template"].with_user(backend.user_id)
        domain = [("available_in_pos", "=", True)] if backend.product_scope == "pos" else [
            ("sale_ok", "=", True)
        ]
        templates = Template.search(domain, order="id")
        backend.write({"push_all_total": len(templates),
                       "push_all_queued_at": fields.Datetime.now()})  # fmt: skip
        Event = self.env["api.sync.event"].sudo()
        keys = backend._sink_record_keys("product.template", templates.ids)
        for start in range(0, len(templates), PUSH_ALL_CHUNK):
            chunk = templates.ids[start : start + PUSH_ALL_CHUNK]
            events = [{"event_type": "record.updated", "model": "product.template", "res_id": rid,
                       "changed_fields": ["*"]} for rid in chunk]  # fmt: skip
            targets = [(position, backend._name, backend.id, "record.updated", keys[rid], None)
                       for position, rid in enumerate(chunk, 1)]  # fmt: skip
            Event._insert(events, targets)
        return True

    def action_view_bindings(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Bindings"),
            "res_model": "api.sync.binding",
            "view_mode": "list,form",
            "domain": [("backend_model", "=", self._name), ("backend_id", "=", self.id)],
        }
