import hashlib
import json

from odoo import api, fields, models

from ..tools.errors import DuplicateRecord

RETENTION_HOURS = 24


class ApiSyncIdempotencyKey(models.Model):
    """Stored responses of POST calls sent with an ``Idempotency-Key`` header."""

    _name = "api.sync.idempotency.key"
    _description = "API Sync Idempotency Key"
    _order = "id desc"

    principal = fields.Char(required=True, help="Rate-limit key of the caller (client or user).")
    key = fields.Char(required=True)
    request_hash = fields.Char(required=True)
    status = fields.Integer()
    response = fields.Json()

    _principal_key_unique = models.Constraint(
        "UNIQUE(principal, key)", "Duplicate idempotency key."
    )

    @staticmethod
    def _hash(method, path, body):
        return hashlib.sha256(
            b"%s %s\n%s" % (method.encode(), path.encode(), body or b"")
        ).hexdigest()

    @api.model
    def _lookup(self, principal, key, request_hash):
        """The stored (status, body) for this key, None when new; 409 when the body differs."""
        since = fields.Datetime.subtract(fields.Datetime.now(), hours=RETENTION_HOURS)
        entry = self.sudo().search(
            [("principal", "=", principal), ("key", "=", key), ("create_date", ">=", since)],
            limit=1,
        )
        if not entry:
            return None
        if entry.request_hash != request_hash:
            raise DuplicateRecord(
                "Idempotency-Key already used with another request body",
                {"idempotency_key": key},
            )
        return entry.status, entry.response

    @api.model
    def _store(self, principal, key, request_hash, status, body):
        self.sudo().search([("principal", "=", principal), ("key", "=", key)]).unlink()
        self.sudo().create(
            {
                "principal": principal,
                "key": key,
                "request_hash": request_hash,
                "status": status,
                "response": json.loads(json.dumps(body, default=str)),
            }
        )

    @api.autovacuum
    def _gc_expired(self):
        since = fields.Datetime.subtract(fields.Datetime.now(), hours=RETENTION_HOURS)
        self.sudo().search([("create_date", "<", since)]).unlink()
