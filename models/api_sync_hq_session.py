from odoo import fields, models


class ApiSyncHqSession(models.Model):
    """The HQ tokens of one backend, shared by every push and worker.

    Kept apart from the backend row (renewals commit on their own, without touching a row the
    dispatcher updates) and readable by the superuser only: no group has any access right.
    """

    _name = "api.sync.hq.session"
    _description = "API Sync HQ Session"

    backend_id = fields.Many2one("api.sync.hq.backend", required=True, ondelete="cascade")
    access_token = fields.Char()
    refresh_token = fields.Char()
    company_id = fields.Many2one(related="backend_id.company_id", store=True)

    _unique_backend = models.Constraint("UNIQUE (backend_id)", "One HQ session per backend.")
