from odoo import api, fields, models

from ..tools.tactill_mapper import digest

SYNC_STATES = [
    ("pending", "Pending"),
    ("synced", "Synced"),
    ("failed", "Failed"),
    ("deleted", "Deleted"),
]


class ApiSyncBinding(models.Model):
    """An Odoo record as known to one backend: its external id and what was last sent.

    One row per (backend, record). ``digest`` is the sha256 of the last body sent: a change
    that leaves the body as it was sends nothing.
    """

    _name = "api.sync.binding"
    _description = "API Sync Binding"
    _order = "id desc"
    _rec_name = "external_id"

    backend_model = fields.Char(required=True, index=True)
    backend_id = fields.Many2oneReference(model_field="backend_model", required=True, index=True)
    res_model = fields.Char(string="Model", required=True, index=True)
    res_id = fields.Many2oneReference(string="Record ID", model_field="res_model", required=True)
    external_id = fields.Char(string="External ID", index=True, copy=False)
    sync_state = fields.Selection(SYNC_STATES, default="pending", required=True, index=True)
    last_error = fields.Char()
    last_push_at = fields.Datetime()
    digest = fields.Char(help="sha256 of the last body sent.")
    body = fields.Json(help="Last body sent (the base of the next partial update).")
    company_id = fields.Many2one("res.company", index=True, ondelete="cascade")
    backend_name = fields.Char(compute="_compute_names")
    record_name = fields.Char(compute="_compute_names")

    _binding_unique = models.Constraint(
        "UNIQUE(backend_model, backend_id, res_model, res_id)",
        "A record is bound at most once to a backend.",
    )

    @api.depends("backend_model", "backend_id", "res_model", "res_id")
    def _compute_names(self):
        for binding in self:
            backend = self.env[binding.backend_model].sudo().browse(binding.backend_id).exists()
            record = self.env[binding.res_model].sudo().browse(binding.res_id).exists()
            binding.backend_name = backend.display_name if backend else False
            binding.record_name = record.display_name if record else False

    # -- bookkeeping used by the exporters -------------------------------------------------------
    @api.model
    def _of(self, backend, res_model, res_ids):
        """{res_id: binding} of ``backend`` for records of ``res_model``."""
        bindings = self.sudo().search([
            ("backend_model", "=", backend._name), ("backend_id", "=", backend.id),
            ("res_model", "=", res_model), ("res_id", "in", list(res_ids)),
        ])  # fmt: skip
        return {binding.res_id: binding for binding in bindings}

    @api.model
    def _record(self, backend, res_model, res_id, external_id, body=None, state="synced"):
        """Bind (or re-bind) a record after a successful push; returns the binding."""
        values = {
            "external_id": external_id,
            "sync_state": state,
            "last_error": False,
            "last_push_at": fields.Datetime.now(),
        }
        if body is not None:
            values.update(digest=digest(body), body=body)
        binding = self._of(backend, res_model, [res_id]).get(res_id)
        if binding:
            binding.write(values)
            return binding
        return self.sudo().create({
            "backend_model": backend._name, "backend_id": backend.id,
            "res_model": res_model, "res_id": res_id,
            "company_id": backend.company_id.id, **values,
        })  # fmt: skip

    @api.model
    def _record_error(self, backend, res_model, res_id, message):
        """Remember why the last push of a record failed (shown on the record's sync status)."""
        binding = self._of(backend, res_model, [res_id]).get(res_id)
        values = {"sync_state": "failed", "last_error": (message or "")[:256]}
        if binding:
            binding.write(values)
        else:
            self.sudo().create({
                "backend_model": backend._name, "backend_id": backend.id,
                "res_model": res_model, "res_id": res_id,
                "company_id": backend.company_id.id, **values,
            })  # fmt: skip

    # -- UI actions ------------------------------------------------------------------------------
    def _deliveries(self, states):
        """The outbox deliveries of these bindings' records to their backends."""
        domain = []
        for binding in self:
            key = (
                self.env[binding.backend_model]
                .browse(binding.backend_id)
                ._sink_record_keys(binding.res_model, [binding.res_id])[binding.res_id]
            )
            domain = [
                *(["|"] if domain else []), *domain,
                "&", "&", ("sink_model", "=", binding.backend_model),
                ("sink_id", "=", binding.backend_id), ("record_key", "=", key),
            ]  # fmt: skip
        if not domain:
            return self.env["api.sync.delivery"]
        return (
            self.env["api.sync.delivery"]
            .sudo()
            .search([("state", "in", states), *domain], order="id")
        )

    def action_retry(self):
        """Push these records again: their failed deliveries are queued once more."""
        self.env["api.sync.delivery"].check_access("write")
        self._deliveries(["dead", "retry", "on_hold"]).action_redeliver()
        self.sudo().write({"sync_state": "pending"})

    def action_mark_resolved(self):
        """The failure was dealt with outside Odoo: clear it and drop its dead deliveries."""
        self.env["api.sync.delivery"].check_access("write")
        self._deliveries(["dead"]).sudo().write({"state": "done", "last_error": False})
        self.sudo().write({"sync_state": "synced", "last_error": False})
