from odoo import api, fields, models


class ApiSyncHqMapping(models.Model):
    """What an Odoo POS config, cashier or payment method is called on one HQ backend.

    Left empty, a mapping is filled with a default on first use (``is_default``): the POS
    config's name as terminal id, the default cashier, the tender of the same name or
    ``CASH``/``CARD`` by the payment method's type.
    """

    _name = "api.sync.hq.mapping"
    _description = "API Sync HQ Mapping"
    _order = "backend_id, kind, odoo_name, id"

    backend_id = fields.Many2one(
        "api.sync.hq.backend", required=True, ondelete="cascade", index=True
    )
    kind = fields.Selection(
        [("terminal", "Terminal"), ("cashier", "Cashier"), ("tender", "Tender")], required=True
    )
    odoo_ref = fields.Char(
        string="Odoo Record",
        required=True,
        help="model,id of the POS config, user, employee or payment method.",
    )
    odoo_name = fields.Char(string="In Odoo")
    hq_value = fields.Char(
        string="In HQ",
        required=True,
        help="Terminal id, HQ user uuid or HQ tender code (payment method).",
    )
    hq_name = fields.Char(string="HQ Name")
    is_default = fields.Boolean(
        string="Default", readonly=True, help="Recorded automatically on first use."
    )
    company_id = fields.Many2one(related="backend_id.company_id", store=True)

    _unique_ref = models.Constraint(
        "UNIQUE (backend_id, kind, odoo_ref)", "One HQ mapping per Odoo record and kind."
    )

    @api.onchange("hq_value")
    def _onchange_hq_value(self):
        """A mapping edited by hand is no longer a default."""
        self.is_default = False
