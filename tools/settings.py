"""The addon's settings: one table of names, types and defaults.

Values live in ``ir.config_parameter`` as ``api_sync.<name>`` (written by *Settings > API Sync*);
they are read through ``api.sync.auth._param(name)``, which falls back on the defaults below.
"""

DEFAULTS = {
    # API access
    "token_lifetime": 3600,
    "refresh_lifetime_days": 30,
    # Limits
    "rate_limit_hour": 1000,
    "rate_limit_minute": 100,
    "login_max_failures": 10,
    "max_body_mb": 10,
    "search_limit_cap": 1000,
    "batch_max_operations": 1000,
    # Webhooks
    "webhook_allow_http": False,
    "webhook_allow_private_networks": False,
    "webhook_disable_after_days": 3,
    "delivery_max_attempts": 25,
    # Delivery
    "dispatch_senders": 8,
    "sink_concurrency": 4,
    "delivery_lease_seconds": 60,
    "delivery_retry_base": 30,
    # Logging
    "log_retention_days": 30,
    "delivery_retention_days": 30,
}


def parse(name, raw):
    """The typed value of setting ``name`` stored as ``raw`` (a parameter string or None)."""
    default = DEFAULTS[name]
    if raw in (None, False, ""):
        return default
    if isinstance(default, bool):
        return str(raw).strip().lower() in ("true", "1", "yes")
    try:
        return type(default)(raw)
    except (TypeError, ValueError):
        return default
