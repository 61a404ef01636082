"""Which models and fields the API exposes at all, before Odoo's access rights apply."""

import re

OPERATIONS = ("read", "create", "write", "delete")

# Models that give control over the database, users or credentials: refused unless a manager
# lists them explicitly on an API client.
_TECHNICAL_PREFIXES = (
    "ir.",
    "base.",
    "base_import.",
    "bus.",
    "res.users",
    "res.groups",
    "res.config",
    "res.device",
    "api.sync.",
    "auth_",
    "change.password",
)

_SECRET_FIELD = re.compile(
    r"(pass(word|wd)?|secret|token|api_?key|totp|signature_key|(^|_)key$|(^|_)pin$)",
    re.IGNORECASE,
)


def is_technical_model(model_name):
    return model_name.startswith(_TECHNICAL_PREFIXES)


def is_secret_field(field_name):
    """Password, secret, token and key fields are never read nor written through the API."""
    return bool(_SECRET_FIELD.search(field_name))
