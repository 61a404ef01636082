"""Shapes of the API's request bodies (marshmallow), validated before any ORM call."""

from marshmallow import INCLUDE, Schema, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from .errors import ValidationFailed


class _Options(Schema):
    return_fields = fields.List(fields.String(), load_default=None)
    skip_validation = fields.Boolean(load_default=False)
    trigger_workflow = fields.Boolean(load_default=True)


class CreateOptions(_Options):
    pass


class UpdateOptions(_Options):
    partial_update = fields.Boolean(load_default=True)


class DeleteOptions(Schema):
    cascade = fields.Boolean(load_default=False)
    archive_instead = fields.Boolean(load_default=False)


class CreateBody(Schema):
    data = fields.Dict(required=True)
    options = fields.Nested(CreateOptions, load_default=lambda: CreateOptions().load({}))


class UpdateBody(Schema):
    data = fields.Dict(required=True)
    options = fields.Nested(UpdateOptions, load_default=lambda: UpdateOptions().load({}))


class DeleteBody(Schema):
    options = fields.Nested(DeleteOptions, load_default=lambda: DeleteOptions().load({}))


class BatchOperation(Schema):
    method = fields.String(
        required=True, validate=validate.OneOf(["create", "update", "delete", "upsert"])
    )
    id = fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1))
    data = fields.Dict(load_default=dict)
    match = fields.Dict()
    external_id = fields.String()
    options = fields.Dict(load_default=dict)

    @validates_schema
    def _check_target(self, op, **_kwargs):
        method = op["method"]
        if method in ("update", "delete") and "id" not in op:
            raise SchemaError(f"`id` is required for {method}", "id")
        if method == "upsert" and not (op.get("match") or op.get("external_id")):
            raise SchemaError("upsert needs `match` or `external_id`", "match")
        if method in ("create", "update") and not op.get("data"):
            raise SchemaError(f"`data` is required for {method}", "data")


class BatchOptions(Schema):
    transaction = fields.Boolean(load_default=True)
    continue_on_error = fields.Boolean(load_default=False)
    skip_validation = fields.Boolean(load_default=False)
    trigger_workflow = fields.Boolean(load_default=True)


class BatchBody(Schema):
    operations = fields.List(fields.Dict(), required=True)
    options = fields.Nested(BatchOptions, load_default=lambda: BatchOptions().load({}))


class LoginBody(Schema):
    class Meta:
        unknown = INCLUDE

    username = fields.String()
    password = fields.String()
    client_id = fields.String()
    client_secret = fields.String()

    @validates_schema
    def _check_pair(self, body, **_kwargs):
        if not (
            (body.get("username") and body.get("password"))
            or (body.get("client_id") and body.get("client_secret"))
        ):
            raise SchemaError("Send `username` and `password`, or `client_id` and `client_secret`")


class RefreshBody(Schema):
    refresh_token = fields.String(required=True)


def _flatten(messages, prefix=""):
    """First (path, message) of marshmallow's nested error dict."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = prefix if key == "_schema" else f"{prefix}.{key}" if prefix else str(key)
            return _flatten(value, path)
    if isinstance(messages, list) and messages:
        return _flatten(messages[0], prefix)
    return prefix, str(messages)


def load(schema_class, payload, where=""):
    """Validate ``payload`` against ``schema_class``; a 400 ``VALIDATION_ERROR`` when invalid."""
    if not isinstance(payload, dict):
        raise ValidationFailed("The request body must be a JSON object")
    try:
        return schema_class().load(payload)
    except SchemaError as exc:
        path, message = _flatten(exc.messages)
        field = f"{where}.{path}" if where and path else (where or path)
        details = {"field": field} if field else {}
        raise ValidationFailed(f"{field}: {message}" if field else message, details) from None
