from odoo import fields, models
from odoo.exceptions import UserError


class ApiSyncRecordStatus(models.TransientModel):
    """The dialog of a record's sync status: one line per webhook or connector backend."""

    _name = "api.sync.record.status"
    _description = "API Sync Record Status"

    res_model = fields.Char(required=True)
    res_id = fields.Integer(required=True)
    line_ids = fields.One2many("api.sync.record.status.line", "status_id")

    def action_view_deliveries(self):
        if len(self) != 1:
            raise UserError(self.env._("Open the deliveries of one record at a time."))
        record = self.env[self.res_model].browse(self.res_id)
        action = self.env["ir.actions.act_window"]._for_xml_id("api_sync.action_api_sync_delivery")
        action["domain"] = list(record._api_sync_delivery_domain())
        action["name"] = self.env._("Deliveries of %s", record.display_name)
        return action


class ApiSyncRecordStatusLine(models.TransientModel):
    _name = "api.sync.record.status.line"
    _description = "API Sync Record Status per Sink"

    status_id = fields.Many2one("api.sync.record.status", required=True, ondelete="cascade")
    delivery_id = fields.Many2one("api.sync.delivery", string="Last Delivery")
    binding_id = fields.Many2one("api.sync.binding")
    sink_name = fields.Char(compute="_compute_sink_name")
    external_id = fields.Char(related="binding_id.external_id")
    sync_state = fields.Selection(related="binding_id.sync_state")
    state = fields.Selection(related="delivery_id.state")
    event_type = fields.Selection(related="delivery_id.event_type")
    last_attempt_at = fields.Datetime(related="delivery_id.last_attempt_at")
    delivered_at = fields.Datetime(related="delivery_id.delivered_at")
    last_error = fields.Char(related="delivery_id.remote_error")

    def _compute_sink_name(self):
        for line in self:
            line.sink_name = line.delivery_id.sink_name or line.binding_id.backend_name
