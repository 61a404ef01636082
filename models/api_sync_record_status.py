from odoo import fields, models
from odoo.exceptions import AccessError, UserError
from odoo.fields import Domain

USER_GROUP = "api_sync.group_api_sync_user"
FAILED = ("retry", "dead")
WAITING = ("pending", "sending", "on_hold")


class ApiSyncRecordStatusMixin(models.AbstractModel):
    """The sync status of a record (product, POS order) for each sink it is sent to: the
    state of the record's latest delivery to each webhook and connector backend."""

    _name = "api.sync.record.status.mixin"
    _description = "API Sync Status of a Record"

    api_sync_status = fields.Char(
        string="Sync Status", compute="_compute_api_sync_status", groups=USER_GROUP
    )
    api_sync_failed = fields.Boolean(compute="_compute_api_sync_status", groups=USER_GROUP)

    def _api_sync_delivery_domain(self):
        """Deliveries about this record (a model may add related records: variants...)."""
        self.ensure_one()
        return Domain("event_id.model", "=", self._name) & Domain("event_id.res_id", "=", self.id)

    def _api_sync_latest(self):
        """{(sink model, sink id): the record's latest delivery to that sink}."""
        self.ensure_one()
        Delivery = self.env["api.sync.delivery"]
        groups = Delivery._read_group(
            self._api_sync_delivery_domain(), ["sink_model", "sink_id"], ["id:max"]
        )
        latest = Delivery.browse([last_id for _model, _sink, last_id in groups])
        return {(d.sink_model, d.sink_id): d for d in latest.sorted("id")}

    def _compute_api_sync_status(self):
        for record in self:
            states = [d.state for d in record._api_sync_latest().values()] if record.id else []
            failed = sum(state in FAILED for state in states)
            waiting = sum(state in WAITING for state in states)
            record.api_sync_failed = bool(failed)
            if failed:
                record.api_sync_status = self.env._("%s failed", failed)
            elif waiting:
                record.api_sync_status = self.env._("%s pending", waiting)
            elif states:
                record.api_sync_status = self.env._("Synced")
            else:
                record.api_sync_status = self.env._("Not synced")

    def action_api_sync_status(self):
        """A dialog with the record's sync status per sink: its latest delivery there, and its
        binding (external id) on connector backends."""
        if not self.env.user.has_group(USER_GROUP):
            raise AccessError(self.env._("The sync status is for API Sync users."))
        self.check_access("read")
        if len(self) != 1:
            raise UserError(self.env._("Open the sync status of one record at a time."))
        latest = self._api_sync_latest()
        bindings = {
            (binding.backend_model, binding.backend_id): binding
            for binding in self.env["api.sync.binding"].search(
                [("res_model", "=", self._name), ("res_id", "=", self.id)]
            )
        }
        lines = [
            {
                "delivery_id": latest[sink].id if sink in latest else False,
                "binding_id": bindings[sink].id if sink in bindings else False,
            }
            for sink in [*latest, *(key for key in bindings if key not in latest)]
        ]
        # the dialog is made here only (users may read it, not create one through RPC): its
        # lines are the deliveries and bindings the user was just shown to be able to read
        status = (
            self.env["api.sync.record.status"]
            .sudo()
            .create(
                {
                    "res_model": self._name,
                    "res_id": self.id,
                    "line_ids": [(0, 0, values) for values in lines],
                }
            )
        )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Sync Status of %s", self.display_name),
            "res_model": "api.sync.record.status",
            "res_id": status.id,
            "view_mode": "form",
            "target": "new",
            "context": {"dialog_size": "extra-large"},
        }


class ProductTemplate(models.Model):
    _name = "product.template"
    _inherit = ["product.template", "api.sync.record.status.mixin"]

    def _api_sync_delivery_domain(self):
        """The template's deliveries and its variants' (connectors send variants with it)."""
        variants = self.with_context(active_test=False).product_variant_ids
        return super()._api_sync_delivery_domain() | (
            Domain("event_id.model", "=", "product.product")
            & Domain("event_id.res_id", "in", variants.ids)
        )


class PosOrder(models.Model):
    _name = "pos.order"
    _inherit = ["pos.order", "api.sync.record.status.mixin"]
