from odoo import fields, models


class ApiSyncClientSecret(models.TransientModel):
    _name = "api.sync.client.secret"
    _description = "API Sync Client Secret (shown once)"

    client_id = fields.Many2one("api.sync.client", required=True, ondelete="cascade")
    identifier = fields.Char(related="client_id.identifier", string="Client ID")
    secret = fields.Char(readonly=True)
