from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..tools import tokens


class ApiSyncClient(models.Model):
    _name = "api.sync.client"
    _description = "API Sync Client"
    _order = "name"

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    user_id = fields.Many2one(
        "res.users",
        string="Run As",
        required=True,
        ondelete="restrict",
        help="Every call of this client runs as this user: its access rights and record rules "
        "apply.",
    )
    identifier = fields.Char(
        string="Client ID",
        required=True,
        readonly=True,
        copy=False,
        default=lambda self: tokens.new_secret("cl_", 12),
        help="Generated once, when the form opens, and kept on save: it never changes.",
    )
    secret_hash = fields.Char(copy=False, groups="base.group_system")
    has_secret = fields.Boolean(compute="_compute_has_secret")
    rule_ids = fields.One2many("api.sync.client.rule", "client_id", string="Allowed Models")
    token_lifetime = fields.Integer(
        string="Access Token Lifetime (s)", default=3600, help="Seconds an access token is valid."
    )
    refresh_lifetime_days = fields.Integer(string="Refresh Token Lifetime (days)", default=30)
    rate_limit_hour = fields.Integer(string="Requests per Hour", default=1000)
    rate_limit_minute = fields.Integer(string="Burst (Requests per Minute)", default=100)
    allow_skip_validation = fields.Boolean(
        help="Allows the `skip_validation` option: unknown input fields are dropped instead of "
        "refused. Odoo's own constraints always apply."
    )
    log_bodies = fields.Boolean(
        string="Log Request Bodies", help="Keep request and response bodies in the request log."
    )
    session_ids = fields.One2many("api.sync.session", "client_id", string="Sessions")
    session_count = fields.Integer(compute="_compute_session_count")

    _identifier_unique = models.Constraint("UNIQUE(identifier)", "The client ID must be unique.")

    @api.depends("secret_hash")
    def _compute_has_secret(self):
        for client in self:
            client.has_secret = bool(client.sudo().secret_hash)

    def _compute_session_count(self):
        counts = dict(
            self.env["api.sync.session"]._read_group(
                [("client_id", "in", self.ids), ("revoked", "=", False)],
                ["client_id"],
                ["__count"],
            )
        )
        for client in self:
            client.session_count = counts.get(client, 0)

    @api.constrains(
        "token_lifetime", "refresh_lifetime_days", "rate_limit_hour", "rate_limit_minute"
    )
    def _check_positive(self):
        for client in self:
            if (
                min(
                    client.token_lifetime,
                    client.refresh_lifetime_days,
                    client.rate_limit_hour,
                    client.rate_limit_minute,
                )
                <= 0
            ):
                raise ValidationError(self.env._("Lifetimes and rate limits must be positive."))

    def _generate_secret(self):
        """Set a new secret and return it in clear: it is shown once and stored hashed."""
        self.ensure_one()
        secret = tokens.new_secret("cs_")
        self.sudo().secret_hash = tokens.hash_secret(secret)
        return secret

    def action_rotate_secret(self):
        """Generate a new secret, revoke the client's tokens and show the secret once."""
        self.ensure_one()
        self.check_access("write")
        secret = self._generate_secret()
        self.session_ids._revoke("secret rotated")
        wizard = self.env["api.sync.client.secret"].create({"client_id": self.id, "secret": secret})
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Client Secret"),
            "res_model": "api.sync.client.secret",
            "res_id": wizard.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_revoke_tokens(self):
        """Revoke every access and refresh token issued to these clients."""
        self.check_access("write")
        self.session_ids._revoke("revoked by a manager")

    def action_view_sessions(self):
        self.ensure_one()
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id("api_sync.action_api_sync_session")
        action["domain"] = [("client_id", "=", self.id)]
        return action

    def write(self, vals):
        if "identifier" in vals and any(c.identifier != vals["identifier"] for c in self):
            raise UserError(self.env._("The client ID of an API client never changes."))
        res = super().write(vals)
        if vals.get("active") is False or "user_id" in vals:
            self.session_ids._revoke("client disabled or changed")
        return res

    def _rule_for(self, model_name):
        self.ensure_one()
        return self.rule_ids.filtered(lambda r: r.model == model_name)[:1]

    def _allowed_operations(self):
        """{model: [operations]} this client may call."""
        self.ensure_one()
        return {rule.model: rule._operations() for rule in self.rule_ids}
