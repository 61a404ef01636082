from odoo import models


class ResPartner(models.Model):
    _inherit = "res.partner"

    def _api_sync_customer_values(self):
        """The customer part of the neutral sale document."""
        self.ensure_one()
        return {
            "id": self.id,
            "ref": self.ref or f"res.partner,{self.id}",
            "name": self.name or "",
            "email": self.email or None,
            "phone": self.phone or None,
            "street": self.street or None,
            "city": self.city or None,
            "zip": self.zip or None,
            "country_code": self.country_id.code or None,
            "vat": self.vat or None,
        }
