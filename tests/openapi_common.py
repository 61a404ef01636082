"""Fixtures of the OpenAPI tests: a client on partners and products, and a client of the API
that knows nothing but the document (requests + the document's JSON Schemas)."""

import json

import requests

from odoo import Command

from .data_common import ApiSyncDataCase

try:
    import jsonschema
except ImportError:  # pragma: no cover -- a dependency of openapi-spec-validator
    jsonschema = None


class ApiSyncOpenApiCase(ApiSyncDataCase):
    """A client allowed everything on ``res.partner`` and ``product.product``."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.client_user.write({
            "group_ids": [Command.link(cls.env.ref("product.group_product_manager").id)],
        })  # fmt: skip
        cls.shop_client = cls.make_client(
            "Shop",
            {"res.partner": ("read", "create", "write", "delete"),
             "product.product": ("read", "create", "write", "delete")},
        )  # fmt: skip

    @classmethod
    def make_client(cls, name, allowed):
        """A client running as ``client_user`` with ``{model: operations}``; returns
        ``(client, secret)``."""
        perms = {"read": "perm_read", "create": "perm_create", "write": "perm_write",
                 "delete": "perm_unlink"}  # fmt: skip
        client = cls.env["api.sync.client"].create({
            "name": name,
            "user_id": cls.client_user.id,
            "rate_limit_hour": 1_000_000,
            "rate_limit_minute": 1_000_000,
            "rule_ids": [
                Command.create({
                    "model_id": cls.env["ir.model"]._get_id(model),
                    **{perm: op in operations for op, perm in perms.items()},
                })
                for model, operations in allowed.items()
            ],
        })  # fmt: skip
        return client, client._generate_secret()

    def token_of(self, client_and_secret):
        client, secret = client_and_secret
        return self.login(client_id=client.identifier, client_secret=secret)["access_token"]

    def document(self, token=None, params=None):
        """The OpenAPI document as the holder of ``token`` sees it (anonymous without)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = self.url_open(
            "/api/sync/v1/openapi.json", headers=headers, params=params, timeout=60
        )
        self.assertEqual(response.status_code, 200, response.text[:2000])
        self.assertEqual(response.headers["Content-Type"], "application/json")
        return response.json()


class DocumentClient:
    """Calls operations by ``operationId``, knowing only the document: where the operation
    lives, which body it takes, and the JSON Schema its answer must match."""

    def __init__(self, document, token, session=None):
        self.document = document
        self.base_url = document["servers"][0]["url"]
        self.session = session or requests.Session()
        self.token = token
        self.operations = {
            op["operationId"]: (method.upper(), path, op)
            for path, item in document["paths"].items()
            for method, op in item.items()
            if isinstance(op, dict) and "operationId" in op
        }

    def resolve(self, node):
        """``node`` with a top-level ``$ref`` followed."""
        while isinstance(node, dict) and "$ref" in node:
            target = self.document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def request_schema(self, operation_id):
        _method, _path, op = self.operations[operation_id]
        return self.resolve(op["requestBody"]["content"]["application/json"]["schema"])

    def validate(self, schema, instance):
        """Validate ``instance`` against a schema of the document (its refs resolved in it)."""
        jsonschema.Draft202012Validator(
            {**schema, "components": self.document["components"]},
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        ).validate(instance)

    def call(self, operation_id, path_params=None, query=None, body=None, headers=None):
        """Call an operation; the answer is validated against the document; returns
        ``(status, json)``."""
        method, path, op = self.operations[operation_id]
        for name, value in (path_params or {}).items():
            path = path.replace("{" + name + "}", str(value))
        headers = {**(headers or {}), "Authorization": f"Bearer {self.token}"}
        kwargs = {"params": query, "headers": headers, "timeout": 60}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            headers["Content-Type"] = "application/json"
        response = self.session.request(method, self.base_url + path, **kwargs)
        declared = op["responses"].get(str(response.status_code))
        if declared is None:
            raise AssertionError(
                f"{operation_id}: undocumented status {response.status_code}: {response.text}"
            )
        schema = self.resolve(declared)["content"]["application/json"]["schema"]
        payload = response.json()
        self.validate(self.resolve(schema), payload)
        return response.status_code, payload

    def sample(self, schema, name):
        """A value for a property, chosen from its schema alone."""
        schema = self.resolve(schema)
        if schema.get("enum"):
            return next(value for value in schema["enum"] if value is not None)
        types = schema.get("type")
        types = [types] if isinstance(types, str) else (types or [])
        if "string" in types:
            if schema.get("format") == "date":
                return "2026-01-15"
            if schema.get("format") == "date-time":
                return "2026-01-15T10:30:00Z"
            return f"Doc client {name}"
        if "integer" in types:
            return schema.get("minimum", 1)
        if "number" in types:
            return 1.5
        if "boolean" in types:
            return True
        raise AssertionError(f"no sample for {name}: {schema}")

    def required_values(self, operation_id, suffix=""):
        """Values for every required field of the operation's ``data``."""
        data_schema = self.resolve(self.request_schema(operation_id)["properties"]["data"])
        return {
            name: self.sample(data_schema["properties"][name], f"{name}{suffix}")
            for name in data_schema.get("required", [])
        }
