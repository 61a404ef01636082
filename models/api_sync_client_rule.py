from odoo import fields, models


class ApiSyncClientRule(models.Model):
    _name = "api.sync.client.rule"
    _description = "API Sync Client Allowed Model"
    _order = "client_id, model"

    client_id = fields.Many2one("api.sync.client", required=True, ondelete="cascade", index=True)
    model_id = fields.Many2one("ir.model", required=True, ondelete="cascade")
    model = fields.Char(related="model_id.model", store=True, string="Model Name")
    perm_read = fields.Boolean(string="Read", default=True)
    perm_create = fields.Boolean(string="Create")
    perm_write = fields.Boolean(string="Write")
    perm_unlink = fields.Boolean(string="Delete")

    _client_model_unique = models.Constraint(
        "UNIQUE(client_id, model_id)", "A model can be listed once per client."
    )

    def _operations(self):
        self.ensure_one()
        perms = {
            "read": self.perm_read,
            "create": self.perm_create,
            "write": self.perm_write,
            "delete": self.perm_unlink,
        }
        return [operation for operation, allowed in perms.items() if allowed]
