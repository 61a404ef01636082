"""Error vocabulary of the sync API and its mapping to HTTP statuses.

Every error the API returns is an :class:`ApiError`; :func:`from_exception` turns any other
exception (Odoo's or PostgreSQL's) into one, so a client never sees a traceback.
"""

import re

import psycopg2.errorcodes

from odoo import exceptions as odoo_exceptions

AUTHENTICATION_ERROR = "AUTHENTICATION_ERROR"
PERMISSION_DENIED = "PERMISSION_DENIED"
NOT_FOUND = "NOT_FOUND"
VALIDATION_ERROR = "VALIDATION_ERROR"
DUPLICATE_RECORD = "DUPLICATE_RECORD"
RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
INTERNAL_ERROR = "INTERNAL_ERROR"


class ApiError(Exception):
    """An error answered to the client in the documented envelope."""

    code = INTERNAL_ERROR
    status = 500

    def __init__(self, message, details=None, *, status=None, headers=None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if status:
            self.status = status
        self.headers = headers or {}

    def to_dict(self, trace_id):
        error = {"code": self.code, "message": self.message, "trace_id": trace_id}
        if self.details:
            error["details"] = self.details
        return error


class AuthenticationError(ApiError):
    code = AUTHENTICATION_ERROR
    status = 401

    def __init__(self, message, details=None, **kwargs):
        kwargs.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="api_sync"'})
        super().__init__(message, details, **kwargs)


class PermissionDenied(ApiError):
    code = PERMISSION_DENIED
    status = 403


class NotFound(ApiError):
    code = NOT_FOUND
    status = 404


class ValidationFailed(ApiError):
    code = VALIDATION_ERROR
    status = 400


class DuplicateRecord(ApiError):
    code = DUPLICATE_RECORD
    status = 409


class RateLimitExceeded(ApiError):
    code = RATE_LIMIT_EXCEEDED
    status = 429


class InternalError(ApiError):
    code = INTERNAL_ERROR
    status = 500


def field_error(field, message, value=None, constraint=None):
    """A 400 ``VALIDATION_ERROR`` about one input field."""
    details = {"field": field}
    if value is not None:
        details["value"] = value
    if constraint:
        details["constraint"] = constraint
    return ValidationFailed(message, details)


_INTEGRITY_CONSTRAINTS = {
    psycopg2.errorcodes.NOT_NULL_VIOLATION: "required",
    psycopg2.errorcodes.FOREIGN_KEY_VIOLATION: "foreign_key",
    psycopg2.errorcodes.CHECK_VIOLATION: "check",
}


def from_exception(exc):
    """Map an exception raised while serving a call to an :class:`ApiError`.

    Returns None for exceptions that have no client-facing meaning (they become
    ``INTERNAL_ERROR`` in the caller, which logs the traceback).
    """
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, odoo_exceptions.AccessDenied):
        return AuthenticationError(str(exc.args[0]) if exc.args else "Access denied")
    if isinstance(exc, odoo_exceptions.AccessError):
        return PermissionDenied(str(exc.args[0]) if exc.args else "Access denied")
    if isinstance(exc, odoo_exceptions.MissingError):
        return NotFound(str(exc.args[0]) if exc.args else "Record not found")
    if isinstance(exc, odoo_exceptions.ValidationError):
        check = _failed_uniqueness_check(exc)
        if check is not None:
            return DuplicateRecord(
                str(exc.args[0]) if exc.args else "A record with the same values already exists",
                {"field": check._constrains[0], "constraint": check.__name__},
            )
    if isinstance(exc, (odoo_exceptions.ValidationError, odoo_exceptions.UserError)):
        return ValidationFailed(str(exc.args[0]) if exc.args else "Invalid data")
    if isinstance(exc, psycopg2.IntegrityError):
        diag = exc.diag
        details = {"constraint": diag.constraint_name} if diag.constraint_name else {}
        if diag.column_name:
            details["field"] = diag.column_name
        if exc.pgcode == psycopg2.errorcodes.UNIQUE_VIOLATION:
            return DuplicateRecord("A record with the same unique values already exists", details)
        kind = _INTEGRITY_CONSTRAINTS.get(exc.pgcode, "integrity")
        if kind == "foreign_key":
            message = "The record is referenced by, or refers to, a record that does not allow it"
        elif kind == "required":
            message = f"Field {diag.column_name or ''} is required".replace("  ", " ")
        else:
            message = "The data violates a database constraint"
        details.setdefault("constraint", kind)
        return ValidationFailed(message, details)
    if isinstance(exc, psycopg2.DataError):  # SQLSTATE class 22: a value the column cannot hold
        details = {"field": exc.diag.column_name} if exc.diag.column_name else {}
        # PostgreSQL's own text (values, types, internals) is never sent to the client
        return ValidationFailed(
            "Invalid value for the database (wrong type or out of range)",
            {**details, "constraint": "data"},
        )
    return None


_UNIQUENESS_CHECK = re.compile(r"uniq|duplicat", re.IGNORECASE)


def _failed_uniqueness_check(exc):
    """The ``@api.constrains`` method that raised ``exc`` when it is a uniqueness check (such
    as ``product.product._check_barcode_uniqueness``), else None: found in the traceback, in the
    frame of ``BaseModel._validate_fields`` that called it."""
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code.co_name == "_validate_fields":
            check = frame.f_locals.get("check")
            constrains = getattr(check, "_constrains", None)
            if (
                constrains
                and isinstance(constrains, (tuple, list))
                and _UNIQUENESS_CHECK.search(getattr(check, "__name__", ""))
            ):
                return check
        tb = tb.tb_next
    return None
