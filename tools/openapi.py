"""The OpenAPI 3.1 document of ``/api/sync/v1``, built with apispec.

Pure: it gets plain descriptions of the caller's models (``fields_get`` plus the allowed
operations) and returns the document as a dict. Request bodies and envelopes are marshmallow
schemas (those of :mod:`.schemas` and the response shapes below) converted by apispec's
marshmallow plugin; each model field becomes a marshmallow field following the transformations
of :mod:`.convert`, which the same plugin turns into JSON Schema.
"""

from dataclasses import dataclass

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, validate
from marshmallow import fields as mf

from . import errors, schemas
from .convert import INT4_MAX, INT4_MIN

OPENAPI_VERSION = "3.1.0"
ERROR_CODES = [
    errors.AUTHENTICATION_ERROR,
    errors.PERMISSION_DENIED,
    errors.NOT_FOUND,
    errors.VALIDATION_ERROR,
    errors.DUPLICATE_RECORD,
    errors.RATE_LIMIT_EXCEEDED,
    errors.INTERNAL_ERROR,
]
# status: (component name, error code, when)
ERROR_RESPONSES = {
    400: ("ValidationError", errors.VALIDATION_ERROR, "Invalid input: body, parameter or value"),
    401: ("AuthenticationError", errors.AUTHENTICATION_ERROR, "Missing, invalid or expired token"),
    403: ("PermissionDenied", errors.PERMISSION_DENIED, "Access rights or client policy"),
    404: ("NotFound", errors.NOT_FOUND, "Unknown model, record or endpoint"),
    409: ("DuplicateRecord", errors.DUPLICATE_RECORD, "Unique value already used, ambiguous match "
          "or idempotency key reused with another body"),
    413: ("PayloadTooLarge", errors.VALIDATION_ERROR, "Request body over the size limit"),
    415: ("UnsupportedMediaType", errors.VALIDATION_ERROR, "Body not sent as application/json"),
    429: ("RateLimitExceeded", errors.RATE_LIMIT_EXCEEDED, "Rate limit or login throttle hit"),
    500: ("InternalError", errors.INTERNAL_ERROR, "Unexpected error, logged under trace_id"),
}  # fmt: skip
_ANY_CALL = (400, 413, 415, 429, 500)
_AUTHENTICATED = (*_ANY_CALL, 401, 403)
_WRITE = (*_AUTHENTICATED, 404, 409)
RATE_HEADERS = (
    ("X-RateLimit-Limit", "Requests allowed per hour"),
    ("X-RateLimit-Remaining", "Requests left in the current hour"),
    ("X-RateLimit-Reset", "Unix time the hourly window resets"),
    ("X-RateLimit-Burst-Limit", "Requests allowed per minute"),
    ("X-RateLimit-Burst-Remaining", "Requests left in the current minute"),
    ("X-RateLimit-Burst-Reset", "Unix time the minute window resets"),
)
SECURITY = [{"bearerAuth": []}, {"apiKeyAuth": []}]
_DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
_NO_DEFAULT = object()


@dataclass(frozen=True)
class ModelInfo:
    """What the caller may do on one model: ``fields`` is its ``fields_get()``."""

    name: str
    label: str
    operations: tuple
    fields: dict
    create_required: frozenset = frozenset()
    writable: frozenset = frozenset()


# -- response shapes -------------------------------------------------------------------------
class Many2one(Schema):
    """A many2one value as read: the linked record's id and display name."""

    id = mf.Integer(required=True)
    name = mf.String(required=True, allow_none=True)


class ErrorBody(Schema):
    code = mf.String(required=True, validate=validate.OneOf(ERROR_CODES))
    message = mf.String(required=True)
    details = mf.Dict(metadata={"description": "field, value, constraint, index... when known"})
    trace_id = mf.String(required=True, metadata={"description": "Equals request_id"})


class BatchResult(Schema):
    index = mf.Integer(required=True)
    success = mf.Boolean(required=True)
    id = mf.Integer()
    created = mf.Boolean(metadata={"description": "upsert: true when the record was created"})
    skipped = mf.Boolean(metadata={"description": "not run: an earlier operation failed"})
    rolled_back = mf.Boolean(metadata={"description": "succeeded, then undone (transaction)"})
    error = mf.Nested(ErrorBody)


class ErrorEnvelope(Schema):
    success = mf.Boolean(required=True, validate=validate.Equal(False))
    error = mf.Nested(ErrorBody, required=True)
    request_id = mf.String(required=True)
    results = mf.List(
        mf.Nested(BatchResult), metadata={"description": "Batch rolled back: each operation"}
    )


class Pagination(Schema):
    total = mf.Integer(required=True)
    page = mf.Integer(required=True)
    per_page = mf.Integer(required=True)
    pages = mf.Integer(required=True)
    next = mf.String(required=True, allow_none=True)
    previous = mf.String(required=True, allow_none=True)


class BatchSummary(Schema):
    total = mf.Integer(required=True)
    succeeded = mf.Integer(required=True)
    failed = mf.Integer(required=True)


class NamedRef(Schema):
    id = mf.Integer(required=True)
    name = mf.String(required=True)


class UserInfo(Schema):
    id = mf.Integer(required=True)
    name = mf.String(required=True)
    email = mf.String(required=True, allow_none=True)
    company = mf.Nested(NamedRef, required=True)


class TokenPair(Schema):
    access_token = mf.String(required=True)
    refresh_token = mf.String(required=True)
    token_type = mf.String(required=True, validate=validate.Equal("Bearer"))
    expires_in = mf.Integer(required=True)
    user = mf.Nested(UserInfo, required=True)


class ClientRef(Schema):
    id = mf.String(required=True)
    name = mf.String(required=True)


class Caller(Schema):
    user = mf.Nested(UserInfo, required=True)
    companies = mf.List(mf.Nested(NamedRef), required=True)
    client = mf.Nested(ClientRef, required=True, allow_none=True)
    auth_method = mf.String(required=True, validate=validate.OneOf(["jwt", "api_key"]))
    allowed_models = mf.Dict(keys=mf.String(), values=mf.List(mf.String()), required=True)


class TokenCheck(Schema):
    valid = mf.Boolean(required=True)
    user_id = mf.Integer(required=True)
    auth_method = mf.String(required=True)
    expires_at = mf.String(required=True, allow_none=True, metadata={"format": "date-time"})


class PingData(Schema):
    status = mf.String(required=True)
    version = mf.String(required=True)
    database = mf.String(required=True)


class WebhookAuth(Schema):
    type = mf.String(required=True, validate=validate.OneOf(["none", "bearer", "basic", "header"]))
    token = mf.String()
    username = mf.String()
    password = mf.String()
    header = mf.String()
    value = mf.String()


class WebhookRegistration(Schema):
    """The spec's registration body (``/events/subscribe`` takes ``callback_url`` and
    ``filters`` for ``url`` and ``conditions``)."""

    url = mf.String(required=True, metadata={"format": "uri"})
    events = mf.List(mf.String(), required=True)
    model = mf.String(required=True)
    fields = mf.List(mf.String())
    conditions = mf.List(mf.Raw(), metadata={"description": "An Odoo domain"})
    authentication = mf.Nested(WebhookAuth)
    status = mf.String(validate=validate.OneOf(["active", "paused"]))


class Webhook(Schema):
    webhook_id = mf.String(required=True)
    status = mf.String(required=True)
    url = mf.String(required=True)
    model = mf.String(required=True)
    events = mf.List(mf.String(), required=True)
    fields = mf.List(mf.String(), required=True)
    conditions = mf.List(mf.Raw(), required=True)
    authentication = mf.Dict(required=True)
    disabled_reason = mf.String(required=True, allow_none=True)
    created_at = mf.String(required=True, allow_none=True, metadata={"format": "date-time"})


class Delivery(Schema):
    id = mf.Integer(required=True)
    event_id = mf.String(required=True)
    event = mf.String(required=True)
    record_id = mf.Integer(required=True, allow_none=True)
    status = mf.String(required=True)
    attempts = mf.Integer(required=True)
    last_status_code = mf.Integer(required=True, allow_none=True)
    last_error = mf.String(required=True, allow_none=True)
    response_excerpt = mf.String(required=True, allow_none=True)
    next_attempt_at = mf.String(required=True, allow_none=True)
    delivered_at = mf.String(required=True, allow_none=True)
    created_at = mf.String(required=True, allow_none=True)


class WebhookPayload(Schema):
    """What a subscription receives (signed with Standard Webhooks headers)."""

    event = mf.String(required=True)
    timestamp = mf.String(required=True, metadata={"format": "date-time"})
    model = mf.String(required=True)
    record_id = mf.Integer(allow_none=True)
    data = mf.Dict()
    changed_fields = mf.List(mf.String())
    old_state = mf.String(allow_none=True)
    new_state = mf.String(allow_none=True)
    metadata = mf.Dict()


# -- model fields as marshmallow fields ------------------------------------------------------
def _selection_field(desc, allow_none):
    keys = [key for key, _label in desc.get("selection") or []]
    if keys and all(isinstance(key, str) for key in keys):
        return mf.String(allow_none=allow_none, validate=validate.OneOf(keys))
    return mf.Raw(allow_none=allow_none, metadata={"enum": [*keys, None]})


def read_field(desc):
    """Marshmallow field of a value as the API answers it (``convert.value_out``)."""
    ftype = desc["type"]
    if ftype == "boolean":
        return mf.Boolean()
    if ftype == "integer":
        return mf.Integer()
    if ftype in ("float", "monetary"):
        return mf.Float()
    if ftype in ("char", "text", "html", "reference"):
        return mf.String(allow_none=True)
    if ftype == "selection":
        return _selection_field(desc, True)
    if ftype == "date":
        return mf.Date(allow_none=True)
    if ftype == "datetime":
        return mf.String(
            allow_none=True, metadata={"format": "date-time", "pattern": _DATETIME_PATTERN}
        )
    if ftype == "many2one":
        return mf.Nested(Many2one, allow_none=True)
    if ftype in ("one2many", "many2many"):
        return mf.List(mf.Integer())
    if ftype == "binary":
        return mf.String(allow_none=True, metadata={"format": "byte"})
    if ftype == "many2one_reference":
        return mf.Integer(allow_none=True)
    return mf.Raw(allow_none=True)


_RECORD_ID = {"type": "integer", "minimum": 1, "maximum": INT4_MAX}
_COMMAND = {
    "type": "array",
    "description": "[0, 0, {values}] create, [1, id, {values}] update, [2, id] delete, "
    "[3, id] unlink, [4, id] link, [5] clear, [6, 0, [ids]] replace",
    "minItems": 1,
    "maxItems": 3,
    "prefixItems": [{"type": "integer", "minimum": 0, "maximum": 6}],
}


def write_field(desc):
    """Marshmallow field of a value the API accepts (``convert.scalar_in``, ``x2many_in``)."""
    ftype = desc["type"]
    if ftype == "boolean":
        return mf.Boolean(allow_none=True)
    if ftype == "integer":
        return mf.Integer(allow_none=True, validate=validate.Range(INT4_MIN, INT4_MAX))
    if ftype in ("float", "monetary"):
        return mf.Float(allow_none=True)
    if ftype in ("char", "text", "html"):
        return mf.String(allow_none=True)
    if ftype == "selection":
        return _selection_field(desc, True)
    if ftype == "date":
        return mf.Date(allow_none=True)
    if ftype == "datetime":
        return mf.DateTime(allow_none=True, metadata={"description": "ISO 8601, UTC when naive"})
    if ftype == "many2one":
        return mf.Raw(
            metadata={
                "description": 'A record id, or {"id": id}',
                "anyOf": [
                    _RECORD_ID,
                    {"type": "object", "required": ["id"], "properties": {"id": _RECORD_ID}},
                    {"type": "null"},
                ],
            }
        )
    if ftype in ("one2many", "many2many"):
        return mf.Raw(
            metadata={
                "description": "A list of ids (replace), or a list of commands",
                "anyOf": [
                    {"type": "array", "items": _RECORD_ID},
                    {"type": "array", "items": _COMMAND},
                    {"type": "null"},
                ],
            }
        )
    if ftype == "binary":
        return mf.String(allow_none=True, metadata={"format": "byte"})
    return mf.Raw(allow_none=True)


# -- the document --------------------------------------------------------------------------
class _Builder:
    def __init__(self, *, title, version, server_url, limits):
        self.plugin = MarshmallowPlugin()
        self.spec = APISpec(
            title=title,
            version=version,
            openapi_version=OPENAPI_VERSION,
            plugins=[self.plugin],
            servers=[{"url": server_url}],
            info={
                "description": "Inbound sync API of this Odoo database. Calls run as an Odoo "
                "user: access rights and record rules apply. Every answer carries "
                "`success` and `request_id` (also in `X-Request-Id`); errors use the "
                "`ErrorEnvelope`."
            },
            security=SECURITY,
        )
        self.limits = limits
        self._props = {}
        self._refs = {}
        self.model_schemas = {}
        self.webhooks = {}
        self._components()

    def prop(self, field):
        return self.plugin.converter.field2property(field)

    # -- shared components -----------------------------------------------------------------
    def _components(self):
        components = self.spec.components
        components.security_scheme(
            "bearerAuth",
            {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "Access token from POST /auth/login (user or client)",
            },
        )
        components.security_scheme(
            "apiKeyAuth",
            {
                "type": "http",
                "scheme": "bearer",
                "description": "An Odoo API key of a user in the API Sync / User group",
            },
        )
        components.header(
            "X-Request-Id", {"required": True, "schema": {"type": "string"}, "description": "Id "
             "of the request, also in the body as request_id"}
        )  # fmt: skip
        for name, description in RATE_HEADERS:
            components.header(
                name, {"schema": {"type": "integer", "minimum": 0}, "description": description}
            )
        components.header(
            "Retry-After", {"schema": {"type": "integer", "minimum": 1}, "description": "Seconds"}
        )
        components.header(
            "Idempotent-Replayed",
            {"schema": {"type": "string", "enum": ["true"]}, "description": "Stored answer"},
        )
        components.header(
            "WWW-Authenticate", {"schema": {"type": "string"}, "description": "Bearer challenge"}
        )
        components.parameter(
            "Idempotency-Key",
            "header",
            {
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "Replays the stored answer of the same call for 24 h",
            },
        )
        for schema in (Many2one, Pagination, BatchSummary, BatchResult, ErrorEnvelope):
            components.schema(schema.__name__, schema=schema)
        for status, (name, code, description) in ERROR_RESPONSES.items():
            headers = {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}}
            if status == 401:
                headers["WWW-Authenticate"] = {"$ref": "#/components/headers/WWW-Authenticate"}
            if status == 429:
                headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
            for header, _description in RATE_HEADERS:
                headers[header] = {"$ref": f"#/components/headers/{header}"}
            components.response(
                name,
                {
                    "description": f"{code}: {description}",
                    "headers": headers,
                    "content": {"application/json": {"schema": ErrorEnvelope}},
                },
            )

    # -- operations ----------------------------------------------------------------------------
    def ok(self, description, properties, required=(), status=200, headers=()):
        """A success response: the envelope with ``properties`` (JSON Schemas or marshmallow)."""
        props = {"success": {"type": "boolean", "const": True}, "request_id": {"type": "string"}}
        for name, value in properties.items():
            props[name] = self._schema(value)
        if "success" in properties:
            props["success"] = {"type": "boolean"}
        head = {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}}
        for name in headers:
            head[name] = {"$ref": f"#/components/headers/{name}"}
        return {
            str(status): {
                "description": description,
                "headers": head,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["success", "request_id", *required],
                            "properties": props,
                        }
                    }
                },
            }
        }

    def _schema(self, value):
        if isinstance(value, dict):
            return value
        if isinstance(value, type) and issubclass(value, Schema):
            if value not in self._refs:
                self._refs[value] = self.plugin.converter.resolve_nested_schema(value)
            return self._refs[value]
        return self.prop(value)

    def model_schema(self, name, schema):
        """Register a model's record schema. apispec deep-copies what it registers, which for
        records of hundreds of fields is most of the generation time: it registers a stub
        and the schema (fresh dicts made here) replaces it in :func:`build`."""
        self.spec.components.schema(name, {"type": "object"})
        self.model_schemas[name] = schema

    def operation(self, summary, tag, responses, statuses, *, security=True, **extra):
        """An operation with its success ``responses`` and the error ``statuses`` it answers."""
        all_responses = dict(responses)
        for status in statuses:
            all_responses[str(status)] = {
                "$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"
            }
        op = {"summary": summary, "tags": [tag], "responses": all_responses, **extra}
        if not security:
            op["security"] = []
        return op

    def json_body(self, schema, required=True, example=None):
        media = {"schema": schema}
        if example is not None:
            media["example"] = example
        return {"required": required, "content": {"application/json": media}}

    # -- generic endpoints -----------------------------------------------------------------
    def service_paths(self):
        rate = [name for name, _d in RATE_HEADERS]
        self.spec.path(
            "/ping",
            operations={
                "get": self.operation(
                    "Service status",
                    "service",
                    self.ok("Up", {"data": PingData}, ["data"]),
                    (400, 413, 415, 500),
                    security=False,
                    operationId="ping",
                )
            },
        )
        self.spec.path(
            "/auth/login",
            operations={
                "post": self.operation(
                    "Log in with username/password (or API key), or client credentials",
                    "auth",
                    self.ok("Token pair", {"data": TokenPair}, ["data"]),
                    (*_ANY_CALL, 401, 403),
                    security=False,
                    operationId="login",
                    requestBody=self.json_body(schemas.LoginBody),
                )
            },
        )
        self.spec.path(
            "/auth/refresh",
            operations={
                "post": self.operation(
                    "New token pair from a refresh token (each one is used once)",
                    "auth",
                    self.ok("Token pair", {"data": TokenPair}, ["data"]),
                    (*_ANY_CALL, 401, 403),
                    security=False,
                    operationId="refresh",
                    requestBody=self.json_body(schemas.RefreshBody),
                )
            },
        )
        for path, summary, data, op_id in (
            ("/auth/me", "The caller: user, companies, client, allowed models", Caller, "me"),
            ("/auth/verify", "Check the token", TokenCheck, "verify"),
        ):
            self.spec.path(
                path,
                operations={
                    "get": self.operation(
                        summary,
                        "auth",
                        self.ok("The caller", {"data": data}, ["data"], headers=rate),
                        _AUTHENTICATED,
                        operationId=op_id,
                    )
                },
            )
        self.spec.path(
            "/auth/logout",
            operations={
                "post": self.operation(
                    "Revoke the token's session (not for API keys: 401)",
                    "auth",
                    self.ok("Logged out", {"message": {"type": "string"}}, ["message"]),
                    _AUTHENTICATED,
                    operationId="logout",
                )
            },
        )

    def webhook_paths(self):
        rate = [name for name, _d in RATE_HEADERS]
        webhook = self.ok("The subscription", {"data": Webhook}, ["data"], headers=rate)
        created = self.ok(
            "Registered; `secret` (whsec_...) signs the deliveries and is shown once",
            {
                "webhook_id": {"type": "string"},
                "status": {"type": "string"},
                "secret": {"type": "string"},
            },
            ["webhook_id", "status", "secret"],
            status=201,
            headers=rate,
        )
        webhook_id = {"name": "webhook_id", "in": "path", "required": True,
                      "schema": {"type": "string"}}  # fmt: skip
        self.spec.path(
            "/webhooks",
            operations={
                "post": self.operation(
                    "Register a webhook",
                    "webhooks",
                    created,
                    (*_AUTHENTICATED, 404),
                    operationId="webhooks.create",
                    requestBody=self.json_body(WebhookRegistration),
                ),
                "get": self.operation(
                    "The caller's webhooks",
                    "webhooks",
                    self.ok("Subscriptions", {"data": mf.List(mf.Nested(Webhook))}, ["data"],
                            headers=rate),
                    _AUTHENTICATED,
                    operationId="webhooks.list",
                ),
            },
        )  # fmt: skip
        self.spec.path(
            "/webhooks/{webhook_id}",
            parameters=[webhook_id],
            operations={
                "get": self.operation(
                    "One webhook", "webhooks", webhook, (*_AUTHENTICATED, 404),
                    operationId="webhooks.read",
                ),
                "patch": self.operation(
                    "Change a webhook (url, events, fields, conditions, authentication, status)",
                    "webhooks", webhook, (*_AUTHENTICATED, 404), operationId="webhooks.update",
                    requestBody=self.json_body({"type": "object", "minProperties": 1}),
                ),
                "delete": self.operation(
                    "Delete a webhook", "webhooks",
                    self.ok("Deleted", {"message": {"type": "string"},
                                        "webhook_id": {"type": "string"}}, ["webhook_id"]),
                    (*_AUTHENTICATED, 404), operationId="webhooks.delete",
                ),
            },
        )  # fmt: skip
        self.spec.path(
            "/webhooks/{webhook_id}/test",
            parameters=[webhook_id],
            operations={
                "post": self.operation(
                    "Queue a ping event", "webhooks",
                    self.ok("Queued", {"message": {"type": "string"},
                                       "webhook_id": {"type": "string"}}, status=202),
                    (*_AUTHENTICATED, 404), operationId="webhooks.test",
                )
            },
        )  # fmt: skip
        self.spec.path(
            "/webhooks/{webhook_id}/deliveries",
            parameters=[webhook_id],
            operations={
                "get": self.operation(
                    "Delivery log of a webhook", "webhooks",
                    self.ok("Deliveries", {"data": mf.List(mf.Nested(Delivery)),
                                           "pagination": mf.Dict()}, ["data", "pagination"]),
                    (*_AUTHENTICATED, 404), operationId="webhooks.deliveries",
                    parameters=[
                        {"name": "page", "in": "query", "schema": {"type": "integer",
                                                                   "minimum": 1}},
                        {"name": "per_page", "in": "query",
                         "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
                        {"name": "status", "in": "query", "schema": {"type": "string"}},
                    ],
                )
            },
        )  # fmt: skip
        self.spec.path(
            "/webhooks/deliveries/{delivery_id}/redeliver",
            parameters=[{"name": "delivery_id", "in": "path", "required": True,
                         "schema": _RECORD_ID}],
            operations={
                "post": self.operation(
                    "Send a delivery again", "webhooks",
                    self.ok("Queued", {"message": {"type": "string"},
                                       "data": mf.Nested(Delivery)}, status=202),
                    (*_AUTHENTICATED, 404), operationId="webhooks.redeliver",
                )
            },
        )  # fmt: skip
        self.spec.path(
            "/events/subscribe",
            operations={
                "post": self.operation(
                    "Register a webhook in the spec's subscription form (callback_url, filters)",
                    "webhooks", created, (*_AUTHENTICATED, 404), operationId="events.subscribe",
                    requestBody=self.json_body({"type": "object", "required": ["callback_url"],
                                                "properties": {
                                                    "callback_url": {"type": "string"},
                                                    "events": {"type": "array",
                                                               "items": {"type": "string"}},
                                                    "model": {"type": "string"},
                                                    "filters": {"type": "object"}}}),
                )
            },
        )  # fmt: skip
        self.spec.components.schema("WebhookPayload", schema=WebhookPayload)
        self.webhooks = {
            "recordEvent": {
                "post": {
                    "summary": "A record event delivered to a subscription",
                    "description": "Headers webhook-id, webhook-timestamp and webhook-signature "
                    "(v1, HMAC-SHA256 of id.timestamp.body). Answer 2xx; 410 disables the "
                    "subscription; anything else is retried with backoff.",
                    "requestBody": self.json_body({"$ref": "#/components/schemas/WebhookPayload"}),
                    "responses": {"2XX": {"description": "Delivered"}},
                }
            }
        }

    # -- data endpoints ------------------------------------------------------------------------
    def query_parameters(self, paged):
        limit_cap = self.limits["search"]
        params = [
            ("domain", {"type": "string", "examples": ['[["id", ">", 0]]']},
             'Odoo domain as JSON, e.g. [["is_company","=",true]]'),
            ("fields", {"type": "string"}, "Comma-separated field names (default: stored, light "
             "fields; binaries only when named)"),
            ("order", {"type": "string"}, "Odoo order, e.g. `name asc, id desc`"),
            ("sort", {"type": "string"}, "`name,-list_price` (a leading `-` sorts descending)"),
        ]  # fmt: skip
        if paged:
            params += [
                ("page", {"type": "integer", "minimum": 1, "maximum": INT4_MAX}, "Page, from 1"),
                ("per_page", {"type": "integer", "minimum": 1, "maximum": limit_cap},
                 "Records per page (default 50)"),
            ]  # fmt: skip
        else:
            params += [
                ("limit", {"type": "integer", "minimum": 1, "maximum": limit_cap},
                 f"Records to return (default 80, at most {limit_cap})"),
                ("offset", {"type": "integer", "minimum": 0, "maximum": INT4_MAX},
                 "Records to skip"),
            ]  # fmt: skip
        return [
            {"name": name, "in": "query", "schema": schema, "description": description}
            for name, schema, description in params
        ]

    def record_schemas(self, info):
        """Register the read schema of a model, and its create and update schemas when the
        caller may write; returns the three refs (None for the unregistered ones)."""
        base = info.name
        read = {name: self._field_prop("r", desc) for name, desc in info.fields.items()}
        read["id"] = {"type": "integer", "minimum": 1}
        self.model_schema(
            base, {"type": "object", "title": info.label, "required": ["id"], "properties": read}
        )
        refs = [f"#/components/schemas/{base}", None, None]
        if not set(info.operations) & {"create", "write"}:
            return refs
        values = {
            name: self._field_prop("w", desc)
            for name, desc in info.fields.items()
            if name in info.writable
        }
        if "create" in info.operations:
            self.model_schema(
                f"{base}.create",
                {
                    "type": "object",
                    "required": sorted(info.create_required & info.writable),
                    "properties": values,
                    "additionalProperties": False,
                },
            )
            refs[1] = f"#/components/schemas/{base}.create"
        self.model_schema(
            f"{base}.update",
            {"type": "object", "properties": values, "additionalProperties": False},
        )
        refs[2] = f"#/components/schemas/{base}.update"
        return refs

    def _field_prop(self, shape, desc):
        key = (shape, desc["type"], tuple(key for key, _l in desc.get("selection") or ()))
        prop = self._props.get(key)
        if prop is None:
            field = read_field(desc) if shape == "r" else write_field(desc)
            prop = self._props[key] = self.prop(field)
        return {**prop, "title": desc.get("string") or ""}

    def model_paths(self, info, refs=None, path_params=()):
        """The paths of one model, limited to the operations the caller may use.

        ``refs``: the (read, create, update) schema refs, by default the model's own ones.
        """
        read_ref, create_ref, update_ref = refs or self.record_schemas(info)
        path_params = list(path_params)
        # the example body (Swagger UI's "Try it out"): a name, when the model has one to write
        sample = {"name": f"Example {info.label}"} if "name" in info.writable else None
        ops = set(info.operations)
        model = info.name
        tag = prefix = "records" if model.startswith("{") else model
        rate = [name for name, _d in RATE_HEADERS]
        record = {"$ref": read_ref}
        idem = "Idempotency-Key"
        collection, item = {}, {}
        if "create" in ops:
            collection["post"] = self.operation(
                f"Create a {info.label}", tag,
                self.ok("Created", {"id": {"type": "integer"}, "data": record}, ["id", "data"],
                        status=201, headers=[*rate, "Idempotent-Replayed"]),
                (*_WRITE,), operationId=f"{prefix}.create", parameters=[idem],
                requestBody=self.json_body({
                    "type": "object", "required": ["data"],
                    "properties": {"data": {"$ref": create_ref},
                                   "options": self._schema(schemas.CreateOptions)},
                }, example=sample and {"data": sample}),
            )  # fmt: skip
        if "read" in ops:
            collection["get"] = self.operation(
                f"List {info.label} records, paginated", tag,
                self.ok("A page of records",
                        {"data": {"type": "array", "items": record}, "pagination": Pagination},
                        ["data", "pagination"], headers=rate),
                (*_AUTHENTICATED, 404), operationId=f"{prefix}.list",
                parameters=self.query_parameters(paged=True),
            )  # fmt: skip
            self.spec.path(
                f"/{model}/search",
                parameters=path_params,
                operations={
                    "get": self.operation(
                        f"Search {info.label} records", tag,
                        self.ok("Matching records", {"count": {"type": "integer"},
                                "records": {"type": "array", "items": record}},
                                ["count", "records"], headers=rate),
                        (*_AUTHENTICATED, 404), operationId=f"{prefix}.search",
                        parameters=self.query_parameters(paged=False),
                    )
                },
            )  # fmt: skip
            item["get"] = self.operation(
                f"Read a {info.label}", tag,
                self.ok("The record", {"data": record}, ["data"], headers=rate),
                (*_AUTHENTICATED, 404), operationId=f"{prefix}.read",
                parameters=[{"name": "fields", "in": "query", "schema": {"type": "string"},
                             "description": "Comma-separated field names"}],
            )  # fmt: skip
        if "write" in ops:
            for method in ("put", "patch"):
                item[method] = self.operation(
                    f"Update a {info.label}", tag,
                    self.ok("Updated", {
                        "id": {"type": "integer"},
                        "updated_fields": {"type": "array", "items": {"type": "string"}},
                        "write_date": {"type": ["string", "null"], "format": "date-time"},
                        "data": record,
                    }, ["id", "updated_fields", "write_date"], headers=rate),
                    _WRITE, operationId=f"{prefix}.{'update' if method == 'put' else 'patch'}",
                    requestBody=self.json_body({
                        "type": "object", "required": ["data"],
                        "properties": {"data": {"$ref": update_ref},
                                       "options": self._schema(schemas.UpdateOptions)},
                    }, example=sample and {"data": sample}),
                )  # fmt: skip
        if ops & {"delete", "write"}:
            item["delete"] = self.operation(
                f"Delete (or archive with archive_instead) a {info.label}", tag,
                self.ok("Deleted or archived", {"message": {"type": "string"},
                                                "id": {"type": "integer"}},
                        ["message", "id"], headers=rate),
                _WRITE, operationId=f"{prefix}.delete",
                requestBody=self.json_body(
                    {"type": "object", "properties": {
                        "options": self._schema(schemas.DeleteOptions)}}, required=False),
            )  # fmt: skip
        if collection:
            self.spec.path(f"/{model}", parameters=path_params, operations=collection)
        if item:
            self.spec.path(
                f"/{model}/{{id}}",
                parameters=[*path_params, {"name": "id", "in": "path", "required": True,
                                           "schema": _RECORD_ID}],
                operations=item,
            )  # fmt: skip
        if ops & {"create", "write", "delete"}:
            self.spec.path(
                f"/{model}/batch",
                parameters=path_params,
                operations={
                    "post": self.batch_operation(info.label, tag, f"{prefix}.batch", sample)
                },
            )

    def batch_operation(self, label, tag, op_id, sample=None):
        rate = [name for name, _d in RATE_HEADERS]
        return self.operation(
            f"Batch of create, update, delete and upsert operations on {label}", tag,
            self.ok("Results (success false when some operation failed, without transaction)",
                    {"success": {"type": "boolean"}, "summary": BatchSummary,
                     "results": {"type": "array",
                                 "items": {"$ref": "#/components/schemas/BatchResult"}}},
                    ["summary", "results"], headers=[*rate, "Idempotent-Replayed"]),
            _WRITE, operationId=op_id,
            parameters=["Idempotency-Key"],
            requestBody=self.json_body({
                "type": "object", "required": ["operations"],
                "properties": {
                    "operations": {"type": "array", "minItems": 1,
                                   "maxItems": self.limits["batch"],
                                   "items": self._schema(schemas.BatchOperation)},
                    "options": self._schema(schemas.BatchOptions),
                },
            }, example=sample and {"operations": [{"method": "create", "data": sample}] * 2}),
        )  # fmt: skip

    def generic_paths(self, model_names=None):
        """``/{model}`` paths with a generic record, for callers not (or not fully) known."""
        model_param = {
            "name": "model",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "Odoo model, e.g. res.partner",
        }
        if model_names:
            model_param["schema"] = {"type": "string", "enum": sorted(model_names)}
        info = ModelInfo(name="{model}", label="record", fields={},
                         operations=("read", "create", "write", "delete"))  # fmt: skip
        self.spec.components.schema(
            "Record",
            {"type": "object", "required": ["id"], "additionalProperties": True,
             "properties": {"id": {"type": "integer", "minimum": 1},
                            "display_name": {"type": ["string", "null"]}}},
        )  # fmt: skip
        self.spec.components.schema("Values", {"type": "object", "additionalProperties": True})
        refs = (
            "#/components/schemas/Record",
            "#/components/schemas/Values",
            "#/components/schemas/Values",
        )
        self.model_paths(info, refs, [model_param])


def build(models, *, title, version, server_url, limits, generic_models=None):
    """The OpenAPI document (a dict) for ``models`` (a list of :class:`ModelInfo`).

    ``limits``: ``{"search": cap, "batch": cap}``. ``generic_models``: when not None, add the
    generic ``/{model}`` paths, the ``model`` parameter restricted to these names when any.
    """
    builder = _Builder(title=title, version=version, server_url=server_url, limits=limits)
    builder.service_paths()
    for info in models:
        builder.model_paths(info)
    if generic_models is not None:
        builder.generic_paths(generic_models)
    builder.webhook_paths()
    document = builder.spec.to_dict()
    document["components"]["schemas"].update(builder.model_schemas)
    document["webhooks"] = builder.webhooks  # OpenAPI 3.1's webhooks, unknown to apispec
    return document
