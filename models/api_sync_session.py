from odoo import api, fields, models


class ApiSyncSession(models.Model):
    """A token family: one login, its access tokens and its chain of refresh tokens."""

    _name = "api.sync.session"
    _description = "API Sync Token Session"
    _order = "id desc"

    user_id = fields.Many2one("res.users", required=True, ondelete="cascade", index=True)
    client_id = fields.Many2one("api.sync.client", ondelete="cascade", index=True)
    auth_method = fields.Selection(
        [("password", "Username and Password"), ("client", "Client Credentials")], required=True
    )
    remote_addr = fields.Char(string="IP Address")
    user_agent = fields.Char()
    expires_at = fields.Datetime(required=True, help="End of the refresh token chain.")
    last_refresh_at = fields.Datetime()
    revoked = fields.Boolean(index=True)
    revoked_at = fields.Datetime()
    revoke_reason = fields.Char()
    token_version = fields.Integer(
        readonly=True, help="The user's token version at login: the session dies when it changes."
    )
    refresh_token_ids = fields.One2many("api.sync.refresh.token", "session_id")
    state = fields.Selection(
        [("active", "Active"), ("expired", "Expired"), ("revoked", "Revoked")],
        compute="_compute_state",
    )

    @api.depends("revoked", "expires_at")
    def _compute_state(self):
        now = fields.Datetime.now()
        for session in self:
            if session.revoked:
                session.state = "revoked"
            elif session.expires_at and session.expires_at < now:
                session.state = "expired"
            else:
                session.state = "active"

    def _revoke(self, reason):
        live = self.filtered(lambda s: not s.revoked)
        live.sudo().write(
            {"revoked": True, "revoked_at": fields.Datetime.now(), "revoke_reason": reason}
        )

    def action_revoke(self):
        """Revoke these sessions: their access and refresh tokens stop working at once."""
        self.check_access("write")
        self._revoke("revoked by a manager")

    @api.autovacuum
    def _gc_dead_sessions(self):
        limit = fields.Datetime.subtract(fields.Datetime.now(), days=7)
        self.sudo().search([("expires_at", "<", limit)]).unlink()
