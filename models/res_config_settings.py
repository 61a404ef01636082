from odoo import fields, models
from odoo.exceptions import AccessError

from ..tools.settings import DEFAULTS


def _setting(field_type, name, string, **kwargs):
    """A settings field stored in the parameter ``api_sync.<name>``, defaulting to the table."""
    return field_type(
        string=string, config_parameter=f"api_sync.{name}", default=DEFAULTS[name], **kwargs
    )


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    # API access
    api_sync_token_lifetime = _setting(
        fields.Integer, "token_lifetime", "Access Token Lifetime (s)"
    )
    api_sync_refresh_lifetime_days = _setting(
        fields.Integer, "refresh_lifetime_days", "Refresh Token Lifetime (days)"
    )
    # Limits
    api_sync_rate_limit_hour = _setting(
        fields.Integer, "rate_limit_hour", "Requests per Hour (per user)"
    )
    api_sync_rate_limit_minute = _setting(
        fields.Integer, "rate_limit_minute", "Requests per Minute (per user)"
    )
    api_sync_login_max_failures = _setting(
        fields.Integer, "login_max_failures", "Failed Logins Allowed (per 15 min)"
    )
    api_sync_max_body_mb = _setting(fields.Integer, "max_body_mb", "Maximum Request Body (MB)")
    api_sync_search_limit_cap = _setting(
        fields.Integer, "search_limit_cap", "Maximum Records per Search"
    )
    api_sync_batch_max_operations = _setting(
        fields.Integer, "batch_max_operations", "Maximum Operations per Batch"
    )
    # Webhooks
    api_sync_webhook_allow_http = _setting(
        fields.Boolean, "webhook_allow_http", "Allow http:// Webhook URLs"
    )
    api_sync_webhook_allow_private_networks = _setting(
        fields.Boolean, "webhook_allow_private_networks", "Allow Private Network Receivers"
    )
    api_sync_webhook_disable_after_days = _setting(
        fields.Integer, "webhook_disable_after_days", "Disable Webhooks Failing for (days)"
    )
    api_sync_delivery_max_attempts = _setting(
        fields.Integer, "delivery_max_attempts", "Delivery Attempts Before Dead Letter"
    )
    # Logging
    api_sync_log_retention_days = _setting(
        fields.Integer, "log_retention_days", "Request Log Retention (days)"
    )
    api_sync_delivery_retention_days = _setting(
        fields.Integer, "delivery_retention_days", "Delivered Webhooks Retention (days)"
    )

    # Delivery
    api_sync_dispatch_senders = _setting(
        fields.Integer, "dispatch_senders", "Concurrent Sends per Dispatcher"
    )
    api_sync_sink_concurrency = _setting(
        fields.Integer, "sink_concurrency", "Concurrent Sends per Sink"
    )
    api_sync_delivery_lease_seconds = _setting(
        fields.Integer, "delivery_lease_seconds", "Delivery Lease (s)"
    )
    api_sync_delivery_retry_base = _setting(
        fields.Integer, "delivery_retry_base", "First Retry Delay (s)"
    )

    def action_api_sync_rotate_signing_key(self):
        """Rotate the JWT signing key: every issued token stops working (Settings admins only)."""
        if not self.env.is_system():
            raise AccessError(self.env._("Only administrators may rotate the API signing key."))
        self.env["api.sync.auth"]._rotate_signing_key()
