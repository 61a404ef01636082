from odoo import fields, models


class ApiSyncRefreshToken(models.Model):
    """One link of a session's refresh chain, stored hashed; spent once used."""

    _name = "api.sync.refresh.token"
    _description = "API Sync Refresh Token"
    _order = "id desc"

    session_id = fields.Many2one("api.sync.session", required=True, ondelete="cascade", index=True)
    token_hash = fields.Char(required=True)
    spent_at = fields.Datetime()

    _token_hash_unique = models.UniqueIndex("(token_hash)")
