"""``/api/sync/v1/openapi.json`` and ``/api/sync/v1/docs`` (Swagger UI, served offline from a
Python package)."""

import mimetypes

from odoo import http
from odoo.http import request

from .envelope import PREFIX, ApiCall

try:  # Swagger UI 5 (OpenAPI 3.1); swagger-ui-bundle ships Swagger UI 4, which cannot read 3.1
    from openapi_ui_bundles import swagger_ui
except ImportError:  # the manifest's external_dependencies make it present once installed
    swagger_ui = None

SWAGGER_ASSETS = frozenset(
    {
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "favicon-32x32.png",
    }
)
DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<title>API Sync: API reference</title>
<link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png"/>
<link rel="stylesheet" href="docs/assets/swagger-ui.css"/>
<style>body {{ margin: 0; }} .topbar {{ display: none; }}</style>
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/assets/swagger-ui-bundle.js"></script>
<script src="docs/assets/swagger-ui-standalone-preset.js"></script>
<script>
(function () {{
    "use strict";
    // The token typed in "Authorize" (or given as #token=... in the address, which is never
    // sent to the server) also loads the document of that caller: its own models and operations.
    var KEY = "api_sync_docs_token";
    var fromHash = new URLSearchParams(window.location.hash.slice(1)).get("token");
    if (fromHash) {{
        sessionStorage.setItem(KEY, fromHash);
        history.replaceState(null, "", window.location.pathname + window.location.search);
    }}
    var ui = SwaggerUIBundle({{
        url: "{document_url}",
        dom_id: "#swagger-ui",
        deepLinking: true,
        presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
        layout: "BaseLayout",
        requestInterceptor: function (req) {{
            var token = sessionStorage.getItem(KEY);
            if (req.loadSpec && token) {{
                req.headers.Authorization = "Bearer " + token;
            }}
            return req;
        }},
        onComplete: function () {{
            var token = sessionStorage.getItem(KEY);
            if (token) {{
                ui.preauthorizeApiKey("bearerAuth", token);
            }}
        }},
    }});
    var authorize = ui.authActions.authorize;
    ui.authActions.authorize = function (payload) {{
        var result = authorize(payload);
        var scheme = payload.bearerAuth || payload.apiKeyAuth;
        if (scheme && scheme.value && scheme.value !== sessionStorage.getItem(KEY)) {{
            sessionStorage.setItem(KEY, scheme.value);
            ui.specActions.download("{document_url}");
        }}
        return result;
    }};
    var logout = ui.authActions.logout;
    ui.authActions.logout = function (names) {{
        sessionStorage.removeItem(KEY);
        return logout(names);
    }};
}})();
</script>
</body>
</html>
"""


class SyncOpenApiController(http.Controller):
    """The self-description of the API: its OpenAPI document and interactive docs."""

    @http.route(
        PREFIX + "/openapi.json",
        type="http",
        auth="none",
        methods=["GET"],
        csrf=False,
        save_session=False,
        readonly=False,
    )
    def openapi_document(self, models=None, **_params):
        """The OpenAPI 3.1 document: generic without a token, the caller's API with one.

        ``models=a,b`` narrows it to (and, for a user's token, details) those models.
        """
        call = ApiCall(authenticated=False, idempotent=False)
        try:
            identity = None
            if request.httprequest.headers.get("Authorization"):
                call._authenticate()
                identity = call.identity
            only = [name.strip() for name in (models or "").split(",") if name.strip()]
            server_url = request.httprequest.host_url.rstrip("/") + PREFIX
            body = request.env["api.sync.openapi"]._document(identity, server_url, only)
        except Exception as exc:  # noqa: BLE001 -- answered in the error envelope
            status, payload = call._fail(exc)
            call._log(status, payload)
            return request.make_json_response(payload, headers=call.headers, status=status)
        return request.make_response(
            body,
            headers=[
                ("Content-Type", "application/json"),
                ("Cache-Control", "private, no-cache"),
                ("X-Request-Id", call.request_id),
            ],
        )

    @http.route(
        PREFIX + "/docs", type="http", auth="none", methods=["GET"], csrf=False, save_session=False
    )
    def docs(self, **_params):
        """Swagger UI on the document; the Authorize box takes a JWT or an API key."""
        page = DOCS_PAGE.format(document_url=PREFIX + "/openapi.json")
        return request.make_response(
            page,
            headers=[
                ("Content-Type", "text/html; charset=utf-8"),
                ("Cache-Control", "no-cache"),
                ("Referrer-Policy", "no-referrer"),
            ],
        )

    @http.route(
        PREFIX + "/docs/assets/<string:name>",
        type="http",
        auth="none",
        methods=["GET"],
        csrf=False,
        save_session=False,
    )
    def docs_asset(self, name):
        """Swagger UI's files, from the ``openapi-ui-bundles`` Python package."""
        if name not in SWAGGER_ASSETS or swagger_ui is None:
            raise request.not_found()
        content = (swagger_ui.static_path / name).read_bytes()
        mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return request.make_response(
            content,
            headers=[("Content-Type", mimetype), ("Cache-Control", "public, max-age=86400")],
        )
