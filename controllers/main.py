import datetime

from odoo import http, release
from odoo.http import request

from ..tools import schemas
from ..tools.errors import AuthenticationError, NotFound
from .envelope import PREFIX, api_route, parse_id

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


class SyncApiController(http.Controller):
    """``/api/sync/v1``: parse, authenticate, delegate to the ``api.sync.*`` services."""

    # -- service -------------------------------------------------------------------------------
    @api_route("/ping", ["GET"], authenticated=False)
    def ping(self, call):
        return 200, {
            "data": {"status": "ok", "version": release.version, "database": request.env.cr.dbname}
        }

    # -- authentication ------------------------------------------------------------------------
    @api_route("/auth/login", ["POST"], authenticated=False)
    def login(self, call):
        body = schemas.load(schemas.LoginBody, call.body)
        Auth = request.env["api.sync.auth"].sudo()
        agent = request.httprequest.user_agent.string
        if body.get("client_id"):
            data = Auth._login_client(
                body["client_id"], body["client_secret"], call.remote_addr, agent
            )
        else:
            data = Auth._login_password(body["username"], body["password"], call.remote_addr, agent)
        return 200, {"data": data}

    @api_route("/auth/refresh", ["POST"], authenticated=False)
    def refresh(self, call):
        body = schemas.load(schemas.RefreshBody, call.body)
        return 200, {"data": request.env["api.sync.auth"].sudo()._refresh(body["refresh_token"])}

    @api_route("/auth/me", ["GET"])
    def me(self, call):
        return 200, {"data": request.env["api.sync.auth"]._describe(call.identity)}

    @api_route("/auth/verify", ["GET"])
    def verify(self, call):
        expires_at = call.identity.expires_at
        return 200, {
            "data": {
                "valid": True,
                "user_id": call.identity.uid,
                "auth_method": call.identity.method,
                "expires_at": _epoch_to_iso(expires_at) if expires_at else None,
            }
        }

    @api_route("/auth/logout", ["POST"])
    def logout(self, call):
        if not request.env["api.sync.auth"].sudo()._logout(call.identity):
            raise AuthenticationError(
                "API keys are not logged out: revoke the key in Odoo's user preferences"
            )
        return 200, {"message": "Logged out: the session's tokens are revoked"}

    # -- data ----------------------------------------------------------------------------------
    @api_route("/<string:model>", ["POST"], idempotent=True)
    def create_record(self, call, model):
        body = schemas.load(schemas.CreateBody, call.body)
        result = request.env["api.sync.data"]._create(
            call.identity, model, body["data"], body["options"]
        )
        return 201, result

    @api_route("/<string:model>", ["GET"])
    def list_records(self, call, model):
        return 200, request.env["api.sync.data"]._list(
            call.identity, model, _query_params(call), request.httprequest.path
        )

    @api_route("/<string:model>/search", ["GET"])
    def search_records(self, call, model):
        return 200, request.env["api.sync.data"]._search(call.identity, model, _query_params(call))

    @api_route("/<string:model>/batch", ["POST"], idempotent=True)
    def run_batch(self, call, model):
        return 200, request.env["api.sync.batch"]._run(
            call.identity, model, call.body, call.request_id
        )

    @api_route("/<string:model>/<string:record_id>", ["GET"])
    def read_record(self, call, model, record_id):
        names = [name.strip() for name in call.params.get("fields", "").split(",") if name.strip()]
        data = request.env["api.sync.data"]._read(call.identity, model, parse_id(record_id), names)
        return 200, {"data": data}

    @api_route("/<string:model>/<string:record_id>", ["PUT", "PATCH"])
    def update_record(self, call, model, record_id):
        body = schemas.load(schemas.UpdateBody, call.body)
        return 200, request.env["api.sync.data"]._update(
            call.identity, model, parse_id(record_id), body["data"], body["options"]
        )

    @api_route("/<string:model>/<string:record_id>", ["DELETE"])
    def delete_record(self, call, model, record_id):
        body = schemas.load(schemas.DeleteBody, call.body or {})
        return 200, request.env["api.sync.data"]._delete(
            call.identity, model, parse_id(record_id), body["options"]
        )

    @api_route("/<path:rest>", ALL_METHODS, authenticated=False)
    def not_found(self, call, rest):
        raise NotFound(f"No endpoint {request.httprequest.method} {PREFIX}/{rest}")


def _query_params(call):
    """Query parameters of a search, with a repeated ``domain`` kept as the list of its values
    (that is how Python's ``requests`` sends a list, see ``query.domain_from_tokens``)."""
    params = call.params
    domains = request.httprequest.args.getlist("domain")
    if len(domains) > 1:
        params["domain"] = domains
    return params


def _epoch_to_iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
