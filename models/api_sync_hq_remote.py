from odoo import fields, models


class ApiSyncHqRemote(models.Model):
    """A store, user or tender an HQ backend offers, loaded by *Test connection*.

    The backend's store and default cashier are picked from these records.
    """

    _name = "api.sync.hq.remote"
    _description = "API Sync HQ Remote Record"
    _order = "backend_id, kind, name, id"

    backend_id = fields.Many2one(
        "api.sync.hq.backend", required=True, ondelete="cascade", index=True
    )
    kind = fields.Selection(
        [("store", "Store"), ("user", "User"), ("tender", "Tender")], required=True
    )
    hq_id = fields.Char(string="HQ Id", required=True)
    name = fields.Char(required=True)
    code = fields.Char(help="Store code, username or tender code.")
    company_id = fields.Many2one(related="backend_id.company_id", store=True)

    _unique_hq_id = models.Constraint(
        "UNIQUE (backend_id, kind, hq_id)", "An HQ record is listed once per backend."
    )

    def _compute_display_name(self):
        for record in self:
            record.display_name = f"{record.name} ({record.code})" if record.code else record.name
