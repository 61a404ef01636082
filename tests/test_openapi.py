import logging
import time

from odoo.tests import tagged

from .openapi_common import ApiSyncOpenApiCase, DocumentClient

try:
    from openapi_spec_validator import validate as validate_spec
except ImportError:
    validate_spec = None

_logger = logging.getLogger(__name__)


@tagged("post_install", "-at_install")
class TestOpenApiDocument(ApiSyncOpenApiCase):
    """``GET /openapi.json``: generic without a token, the caller's own API with one."""

    def assertValidSpec(self, document):
        if validate_spec is None:
            self.skipTest(
                "openapi-spec-validator is not installed (pip install openapi-spec-validator)"
            )
        validate_spec(document)
        self.assertEqual(document["openapi"], "3.1.0")

    def test_anonymous_document(self):
        document = self.document()
        self.assertValidSpec(document)
        paths = document["paths"]
        for path in ("/ping", "/auth/login", "/auth/refresh", "/{model}", "/{model}/{id}",
                     "/{model}/search", "/{model}/batch", "/webhooks"):  # fmt: skip
            self.assertIn(path, paths)
        self.assertEqual(paths["/ping"]["get"]["security"], [])
        self.assertEqual(
            set(document["components"]["securitySchemes"]), {"bearerAuth", "apiKeyAuth"}
        )
        self.assertNotIn("res.partner", document["components"]["schemas"])
        self.assertIn("recordEvent", document["webhooks"])

    def test_client_document_describes_its_models(self):
        document = self.document(self.token_of(self.shop_client))
        self.assertValidSpec(document)
        schemas = document["components"]["schemas"]
        paths = document["paths"]
        self.assertNotIn("/{model}", paths)
        for model in ("res.partner", "product.product"):
            self.assertEqual(
                set(paths[f"/{model}"]) | set(paths[f"/{model}/{{id}}"]),
                {"get", "post", "put", "patch", "delete", "parameters"},
            )
            self.assertIn(f"/{model}/batch", paths)
            self.assertIn(f"/{model}/search", paths)
        self.assertNotIn("/res.country", paths)
        partner, partner_in = schemas["res.partner"], schemas["res.partner.create"]
        # read shape: many2one {id, name}, x2many id lists, dates, selections as enums
        self.assertEqual(
            partner["properties"]["country_id"]["anyOf"],
            [{"$ref": "#/components/schemas/Many2one"}, {"type": "null"}],
        )
        self.assertEqual(partner["properties"]["category_id"]["type"], "array")
        self.assertEqual(partner["properties"]["create_date"]["format"], "date-time")
        self.assertEqual(partner["properties"]["type"]["type"], ["string", "null"])
        self.assertIn("contact", partner["properties"]["type"]["enum"])
        # write shape: many2one id or {"id"}, x2many commands, read-only and secret fields absent
        self.assertIn("country_id", partner_in["properties"])
        self.assertEqual(len(partner_in["properties"]["country_id"]["anyOf"]), 3)
        for absent in ("id", "create_date", "display_name", "write_date"):
            self.assertNotIn(absent, partner_in["properties"])
        self.assertFalse(partner_in["additionalProperties"])
        self.assertIn("name", schemas["product.product.create"]["required"])
        self.assertNotIn("product_tmpl_id", schemas["product.product.create"].get("required", []))
        # search parameters with the limit cap, Idempotency-Key, rate-limit headers, errors
        search = paths["/res.partner/search"]["get"]
        limit = next(p for p in search["parameters"] if p["name"] == "limit")
        self.assertEqual(limit["schema"]["maximum"], 1000)
        self.assertEqual(
            {p["name"] for p in search["parameters"]},
            {"domain", "fields", "limit", "offset", "order", "sort"},
        )
        create = paths["/res.partner"]["post"]
        self.assertIn({"$ref": "#/components/parameters/Idempotency-Key"}, create["parameters"])
        self.assertIn("X-RateLimit-Remaining", create["responses"]["201"]["headers"])
        self.assertEqual(
            create["responses"]["409"], {"$ref": "#/components/responses/DuplicateRecord"}
        )
        self.assertIn(
            "Retry-After", document["components"]["responses"]["RateLimitExceeded"]["headers"]
        )

    def test_read_only_client_sees_only_reads(self):
        reader = self.make_client("Reader", {"res.partner": ("read",)})
        document = self.document(self.token_of(reader))
        self.assertValidSpec(document)
        model_paths = {
            (path, method)
            for path, item in document["paths"].items()
            for method in item
            if method != "parameters" and path.startswith(("/res.", "/product."))
        }
        self.assertEqual(
            model_paths,
            {("/res.partner", "get"), ("/res.partner/search", "get"),
             ("/res.partner/{id}", "get")},
        )  # fmt: skip
        self.assertNotIn("res.partner.create", document["components"]["schemas"])

    def test_user_token_lists_usable_models(self):
        document = self.document()  # anonymous: any model name
        self.assertNotIn("enum", document["paths"]["/{model}"]["parameters"][0]["schema"])
        document = self.document(self.api_key)
        model = document["paths"]["/{model}"]["parameters"][0]["schema"]["enum"]
        self.assertIn("res.partner", model)
        self.assertNotIn("res.users", model)  # technical models are for clients only
        detailed = self.document(self.api_key, params={"models": "res.partner"})
        self.assertValidSpec(detailed)
        self.assertIn("/res.partner/{id}", detailed["paths"])
        self.assertNotIn("/{model}", detailed["paths"])

    def test_allowlist_change_refreshes_the_document(self):
        client, secret = reader = self.make_client("Growing", {"res.partner": ("read",)})
        token = self.token_of(reader)
        self.assertNotIn("/product.product", self.document(token)["paths"])
        client.write({"rule_ids": [(0, 0, {
            "model_id": self.env["ir.model"]._get_id("product.product"), "perm_read": True,
        })]})  # fmt: skip
        self.assertIn("/product.product", self.document(token)["paths"])
        self.assertTrue(secret)

    def test_bad_token_is_the_error_envelope(self):
        response = self.url_open(
            "/api/sync/v1/openapi.json", headers={"Authorization": "Bearer nope"}
        )
        self.assertApiError(response, 401, "AUTHENTICATION_ERROR")

    def test_generation_time_for_50_models(self):
        """The document of 50 models is generated in under a second of CPU (process time, so
        that other jobs on the busy machine do not count), then served from the cache."""
        Openapi = self.env["api.sync.openapi"]
        names = tuple(sorted(Openapi._usable_models())[:50])
        self.assertEqual(len(names), 50)
        # Odoo's own caches warm (some selections are computed on first use, e.g. chart
        # templates), ours cold: a server URL never asked before
        Openapi._model_infos(dict.fromkeys(names, ("read",)))
        url = f"http://timing-{time.time_ns()}/api/sync/v1"
        started, cpu = time.perf_counter(), time.process_time()
        body = Openapi._cached_document(self.env.uid, 0, None, url, names)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        _logger.info("OpenAPI document of 50 models: %.3f s CPU, %.3f s wall, %s bytes",
                     cpu, elapsed, len(body))  # fmt: skip
        self.assertEqual(len([n for n in names if f'"/{n}/search"'.encode() in body]), 50)
        self.assertLess(cpu, 1.0, f"{cpu:.3f} s of CPU ({elapsed:.3f} s wall) for 50 models")
        self.assertIs(Openapi._cached_document(self.env.uid, 0, None, url, names), body)


@tagged("post_install", "-at_install")
class TestOpenApiContract(ApiSyncOpenApiCase):
    """A client built from nothing but the document runs every operation on partners and
    products; each answer matches the document."""

    def test_document_client_runs_every_operation(self):
        token = self.token_of(self.shop_client)
        # self.opener: requests' Session bound to this test's transaction on the test server
        client = DocumentClient(self.document(token), token, self.opener)
        for model in ("res.partner", "product.product"):
            with self.subTest(model=model):
                self._run_operations(client, model)

    def _run_operations(self, client, model):
        # the document tells what is required; a name is what a person would add
        values = {"name": f"Doc client {model}", **client.required_values(f"{model}.create")}
        status, created = client.call(f"{model}.create", body={"data": values})
        self.assertEqual(status, 201)
        record_id = created["id"]
        status, read = client.call(f"{model}.read", {"id": record_id}, query={"fields": "name"})
        self.assertEqual(read["data"]["name"], values["name"])
        status, updated = client.call(
            f"{model}.update", {"id": record_id}, body={"data": {"name": "Doc client renamed"}}
        )
        self.assertEqual(updated["updated_fields"], ["name"])
        status, read = client.call(f"{model}.read", {"id": record_id}, query={"fields": "name"})
        self.assertEqual(read["data"], {"id": record_id, "name": "Doc client renamed"})
        status, found = client.call(
            f"{model}.search",
            query={"domain": f'[["id", "=", {record_id}]]', "fields": "name"},
        )
        self.assertEqual(found["count"], 1)
        self.assertEqual(found["records"][0]["id"], record_id)
        status, page = client.call(f"{model}.list", query={"per_page": 2})
        self.assertLessEqual(len(page["data"]), 2)
        batch_values = [
            {"name": f"Doc batch {i}", **client.required_values(f"{model}.create", f" {i}")}
            for i in range(2)
        ]
        status, batch = client.call(
            f"{model}.batch",
            body={"operations": [
                {"method": "create", "data": batch_values[0]},
                {"method": "create", "data": batch_values[1]},
                {"method": "update", "id": record_id, "data": {"name": "Doc batch"}},
            ]},
        )  # fmt: skip
        self.assertTrue(batch["success"], batch)
        self.assertEqual(batch["summary"]["succeeded"], 3)
        for result in [*batch["results"][:2], {"id": record_id}]:
            status, deleted = client.call(f"{model}.delete", {"id": result["id"]})
            self.assertEqual(deleted["id"], result["id"])
        status, gone = client.call(f"{model}.read", {"id": record_id})
        self.assertEqual((status, gone["error"]["code"]), (404, "NOT_FOUND"))


@tagged("post_install", "-at_install")
class TestOpenApiDocs(ApiSyncOpenApiCase):
    """``GET /docs``: Swagger UI served from the swagger-ui-bundle package, offline."""

    def test_docs_page_and_assets(self):
        page = self.url_open("/api/sync/v1/docs")
        self.assertEqual(page.status_code, 200)
        self.assertIn("text/html", page.headers["Content-Type"])
        self.assertIn('src="docs/assets/swagger-ui-bundle.js"', page.text)
        self.assertIn("/api/sync/v1/openapi.json", page.text)
        self.assertNotIn("http://", page.text.replace("http://127.0.0.1", ""))
        for name, mimetype in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "css")):
            asset = self.url_open(f"/api/sync/v1/docs/assets/{name}")
            self.assertEqual(asset.status_code, 200)
            self.assertIn(mimetype, asset.headers["Content-Type"])
            self.assertGreater(len(asset.content), 1000)
        self.assertEqual(self.url_open("/api/sync/v1/docs/assets/index.html").status_code, 404)
        self.assertEqual(
            self.url_open("/api/sync/v1/docs/assets/..%2F..%2Fsetup.py").status_code, 404
        )

    def test_client_form_links_the_docs(self):
        arch = self.env.ref("api_sync.view_api_sync_client_form").arch
        self.assertIn("/api/sync/v1/docs", arch)


@tagged("post_install", "-at_install")
class TestDuplicateFromOdooCheck(ApiSyncOpenApiCase):
    """A duplicate caught by one of Odoo's own uniqueness checks is a 409 naming the field,
    as a SQL unique violation is."""

    def test_duplicate_barcode_is_409(self):
        self.Product.create({"name": "Scanned", "barcode": "4006381333931"})
        response = self.api(
            "POST",
            "/product.product",
            json={"data": {"name": "Scanned twice", "barcode": "4006381333931"}},
        )
        error = self.assertApiError(response, 409, "DUPLICATE_RECORD", field="barcode")
        self.assertIn("4006381333931", error["message"])
        self.assertFalse(self.Product.search([("name", "=", "Scanned twice")]))

    def test_other_constraints_stay_400(self):
        response = self.api(
            "POST", "/res.partner", json={"data": {"name": "Loop", "parent_id": None,
                                                   "email": "x@example.com",
                                                   "vat": None, "type": "contact"}},
        )  # fmt: skip
        self.assertEqual(response.status_code, 201, response.text)
        partner_id = response.json()["id"]
        response = self.api("PUT", f"/res.partner/{partner_id}",
                            json={"data": {"parent_id": partner_id}})  # fmt: skip
        self.assertApiError(response, 400, "VALIDATION_ERROR")
