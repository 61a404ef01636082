from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    api_sync_token_lifetime = fields.Integer(
        string="Access Token Lifetime (s)", config_parameter="api_sync.token_lifetime", default=3600
    )
    api_sync_refresh_lifetime_days = fields.Integer(
        string="Refresh Token Lifetime (days)",
        config_parameter="api_sync.refresh_lifetime_days",
        default=30,
    )
    api_sync_rate_limit_hour = fields.Integer(
        string="Requests per Hour (per user)",
        config_parameter="api_sync.rate_limit_hour",
        default=1000,
    )
    api_sync_rate_limit_minute = fields.Integer(
        string="Requests per Minute (per user)",
        config_parameter="api_sync.rate_limit_minute",
        default=100,
    )
    api_sync_login_max_failures = fields.Integer(
        string="Failed Logins Allowed (per 15 min)",
        config_parameter="api_sync.login_max_failures",
        default=10,
    )
    api_sync_max_body_mb = fields.Integer(
        string="Maximum Request Body (MB)", config_parameter="api_sync.max_body_mb", default=10
    )
    api_sync_search_limit_cap = fields.Integer(
        string="Maximum Records per Search",
        config_parameter="api_sync.search_limit_cap",
        default=1000,
    )
    api_sync_batch_max_operations = fields.Integer(
        string="Maximum Operations per Batch",
        config_parameter="api_sync.batch_max_operations",
        default=1000,
    )
    api_sync_log_retention_days = fields.Integer(
        string="Request Log Retention (days)",
        config_parameter="api_sync.log_retention_days",
        default=30,
    )
    api_sync_webhook_allow_http = fields.Boolean(
        string="Allow http:// Webhooks", config_parameter="api_sync.webhook_allow_http"
    )
    api_sync_webhook_allow_private_networks = fields.Boolean(
        string="Allow Private Network Receivers",
        config_parameter="api_sync.webhook_allow_private_networks",
        help="Lifts the check that webhook hosts resolve to public addresses "
        "(on-premise receivers).",
    )
    api_sync_webhook_disable_after_days = fields.Integer(
        string="Disable Webhooks Failing for (days)",
        config_parameter="api_sync.webhook_disable_after_days",
        default=3,
    )
    api_sync_delivery_max_attempts = fields.Integer(
        string="Delivery Attempts Before Dead Letter",
        config_parameter="api_sync.delivery_max_attempts",
        default=25,
        help="With exponential backoff capped at 6 hours (and ±20 % jitter), 25 attempts span "
        "at least 3 days.",
    )

    api_sync_dispatch_senders = fields.Integer(
        string="Concurrent Sends per Dispatcher",
        config_parameter="api_sync.dispatch_senders",
        default=8,
    )
    api_sync_sink_concurrency = fields.Integer(
        string="Concurrent Sends per Sink",
        config_parameter="api_sync.sink_concurrency",
        default=4,
    )
    api_sync_delivery_lease_seconds = fields.Integer(
        string="Delivery Lease (s)",
        config_parameter="api_sync.delivery_lease_seconds",
        default=60,
    )
    api_sync_delivery_retry_base = fields.Integer(
        string="First Retry Delay (s)",
        config_parameter="api_sync.delivery_retry_base",
        default=30,
    )

    def action_api_sync_rotate_signing_key(self):
        """Rotate the JWT signing key: every issued token stops working."""
        self.env["api.sync.auth"]._rotate_signing_key()
