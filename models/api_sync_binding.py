from odoo import fields, models


class ApiSyncBinding(models.Model):
    """TEMPORARY stand-in until the tactill branch's binding model is merged."""

    _name = "api.sync.binding"
    _description = "API Sync Binding"

    backend_model = fields.Char(required=True, index=True)
    backend_id = fields.Many2oneReference(model_field="backend_model", required=True, index=True)
    res_model = fields.Char(required=True, index=True)
    res_id = fields.Many2oneReference(model_field="res_model", required=True)
    external_id = fields.Char()
    sync_state = fields.Selection(
        [("pending", "Pending"), ("sending", "Sending"), ("synced", "Synced"),
         ("voided", "Voided"), ("failed", "Failed"), ("deleted", "Deleted")],
        default="pending", required=True,
    )
    last_error = fields.Char()
    last_push_at = fields.Datetime()
    digest = fields.Char()
    body = fields.Json()
    company_id = fields.Many2one("res.company")

    _binding_unique = models.Constraint(
        "UNIQUE(backend_model, backend_id, res_model, res_id)", "once"
    )
