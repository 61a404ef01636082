"""The spec's SDK classes ("SDK Examples"), unchanged, against the test server.

The Python class is copied verbatim and runs with ``requests`` as written. Note how it sends a
search domain: ``requests`` flattens a list value one level into a repeated parameter
(``domain=name&domain=%3D&domain=x``, every item as ``str()``), and omits ``domain`` when the
list is empty and ``fields`` when it is None; the server reads that form back. The JavaScript
class runs under Node when available; its exact requests are also replayed from Python.
"""

import json
import resource
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import requests

from odoo.tests import tagged

from .common import API
from .data_common import ApiSyncDataCase


# -- sync-api-reference.md, "SDK Examples / Python", verbatim ----------------------------------
# pylint: disable=external-request-timeout
class OdooAPIClient:
    def __init__(self, base_url, token):
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def create_record(self, model, data):
        url = f"{self.base_url}/api/sync/v1/{model}"
        response = requests.post(url, json={"data": data}, headers=self.headers)
        return response.json()

    def search_records(self, model, domain=None, fields=None):
        url = f"{self.base_url}/api/sync/v1/{model}/search"
        params = {"domain": domain or [], "fields": ",".join(fields) if fields else None}
        response = requests.get(url, params=params, headers=self.headers)
        return response.json()


# -----------------------------------------------------------------------------------------------


# sync-api-reference.md, "SDK Examples / JavaScript", verbatim, then a driver printing JSON.
JS_SDK = """
class OdooAPI {
  constructor(baseUrl, token) {
    this.baseUrl = baseUrl;
    this.token = token;
  }

  async createRecord(model, data) {
    const response = await fetch(`${this.baseUrl}/api/sync/v1/${model}`, {
      method: 'POST',
      headers: {
        'Authorization': `Bearer ${this.token}`,
        'Content-Type': 'application/json'
      },
      body: JSON.stringify({ data })
    });
    return response.json();
  }

  async searchRecords(model, domain = [], fields = []) {
    const params = new URLSearchParams({
      domain: JSON.stringify(domain),
      fields: fields.join(',')
    });

    const response = await fetch(
      `${this.baseUrl}/api/sync/v1/${model}/search?${params}`,
      {
        headers: {
          'Authorization': `Bearer ${this.token}`
        }
      }
    );
    return response.json();
  }
}

// Usage
const [baseUrl, token] = process.argv.slice(2);
const api = new OdooAPI(baseUrl, token);
const result = await api.createRecord('res.partner', {
  name: 'New Customer',
  email: 'customer@example.com'
});
const found = await api.searchRecords(
  'res.partner', [['email', '=', 'customer@example.com']], ['name', 'email']);
const everything = await api.searchRecords('res.partner');
console.log(JSON.stringify({ result, found, everything }));
"""


def _lift_memory_limit():
    """Odoo caps its address space (``limit_memory_hard``); Node reserves more for WebAssembly."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))


@tagged("post_install", "-at_install")
class TestSdkExamples(ApiSyncDataCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Partner.create([
            {"name": "SDK Company", "email": "co@sdk.example.com", "is_company": True,
             "customer_rank": 1},
            {"name": "SDK Person", "email": "person@sdk.example.com", "is_company": False},
            {"name": "SDK Vendor", "email": "vendor@sdk.example.com", "is_company": True,
             "supplier_rank": 2},
        ])  # fmt: skip

    @contextmanager
    def outside_client(self):
        """Let a client other than ``url_open`` (plain ``requests``, Node) reach the test server."""
        self.env.flush_all()
        self.env.invalidate_all()
        with self.allow_requests(all_requests=True):
            yield

    def sdk(self):
        return OdooAPIClient(self.base_url(), self.api_key)

    # -- Python SDK ------------------------------------------------------------------------------
    def test_python_sdk_usage(self):
        """The spec's "Usage" lines, as written (host adapted)."""
        with self.outside_client():
            client = self.sdk()
            result = client.create_record('res.partner', {
                'name': 'New Customer',
                'email': 'customer@example.com'
            })  # fmt: skip
        self.assertIs(result["success"], True, result)
        partner = self.Partner.browse(result["id"])
        self.assertEqual((partner.name, partner.email), ("New Customer", "customer@example.com"))
        self.assertEqual(result["data"]["id"], partner.id)
        self.assertTrue(result["request_id"].startswith("req_"))

    def test_python_sdk_search_without_domain(self):
        """``domain=[]`` and ``fields=None`` are not sent at all: all records, default fields."""
        with self.outside_client():
            result = self.sdk().search_records("res.partner")
        self.assertIs(result["success"], True, result)
        self.assertEqual(result["count"], self.Partner.with_user(self.api_user).search_count([]))
        record = result["records"][0]
        self.assertIn("name", record)
        self.assertIn("email", record)
        self.assertNotIn("image_1920", record)

    def test_python_sdk_search_with_domain_and_fields(self):
        with self.outside_client():
            result = self.sdk().search_records(
                "res.partner", [["email", "=", "co@sdk.example.com"]], ["name", "email"]
            )
        self.assertIs(result["success"], True, result)
        self.assertEqual(result["count"], 1)
        company = self.Partner.search([("email", "=", "co@sdk.example.com")])
        self.assertEqual(result["records"], [
            {"id": company.id, "name": "SDK Company", "email": "co@sdk.example.com"},
        ])  # fmt: skip

    def test_python_sdk_search_typed_values(self):
        """Booleans, numbers, ``|`` and ``in`` lists survive ``requests``' flattening."""
        cases = [
            ([["is_company", "=", True], ["email", "ilike", "sdk.example.com"]],
             {"co@sdk.example.com", "vendor@sdk.example.com"}),
            ([["is_company", "=", False], ["email", "ilike", "sdk.example.com"]],
             {"person@sdk.example.com"}),
            ([["customer_rank", ">", 0], ["email", "ilike", "sdk.example.com"]],
             {"co@sdk.example.com"}),
            (["|", ["customer_rank", ">", 0], ["supplier_rank", ">", 1],
              ["email", "ilike", "sdk.example.com"]],
             {"co@sdk.example.com", "vendor@sdk.example.com"}),
            ([["email", "in", ["person@sdk.example.com", "vendor@sdk.example.com"]]],
             {"person@sdk.example.com", "vendor@sdk.example.com"}),
            ([["email", "=", "person@sdk.example.com"], ["phone", "=", None]],
             {"person@sdk.example.com"}),
            ([["name", "=", "SDK Vendor"], ["country_id", "=", False]],
             {"vendor@sdk.example.com"}),
        ]  # fmt: skip
        client = self.sdk()
        for domain, expected in cases:
            with self.subTest(domain=domain):
                with self.outside_client():
                    result = client.search_records("res.partner", domain, ["email"])
                self.assertIs(result["success"], True, result)
                self.assertEqual({r["email"] for r in result["records"]}, expected)
                # the same answer as the JSON form (curl, JavaScript)
                response = self.api(
                    "GET",
                    "/res.partner/search",
                    params={"domain": json.dumps(domain), "fields": "email"},
                )
                self.assertEqual(response.json()["records"], result["records"])

    def test_python_sdk_search_bad_domain(self):
        """The flattened form is validated like the JSON one."""
        with self.outside_client():
            client = self.sdk()
            unknown = client.search_records("res.partner", [["nope", "=", 1]])
            operator = client.search_records("res.partner", [["name", "; drop", "x"]])
            incomplete = client.search_records("res.partner", [["name", "="]])
        self.assertEqual(unknown["error"]["code"], "VALIDATION_ERROR")
        self.assertEqual(unknown["error"]["details"]["field"], "nope")
        self.assertEqual(operator["error"]["code"], "VALIDATION_ERROR")
        self.assertEqual(operator["error"]["details"]["constraint"], "operator")
        self.assertEqual(incomplete["error"]["code"], "VALIDATION_ERROR")
        self.assertEqual(incomplete["error"]["details"]["field"], "domain")

    # -- JavaScript SDK --------------------------------------------------------------------------
    def test_javascript_sdk_requests_replayed(self):
        """The exact requests of ``createRecord`` and ``searchRecords``, replayed."""
        # createRecord: JSON.stringify({ data }) with both headers
        response = self.url_open(
            API + "/res.partner",
            data=json.dumps({"data": {"name": "JS Customer", "email": "js@example.com"}},
                            separators=(",", ":")),
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
        )  # fmt: skip
        created = self.assertApiOk(response, 201)
        # searchRecords(model, domain, fields): URLSearchParams of JSON.stringify(domain), join(',')
        query = urlencode({
            "domain": json.dumps([["email", "=", "js@example.com"]], separators=(",", ":")),
            "fields": ",".join(["name", "email"]),
        })  # fmt: skip
        response = self.url_open(
            f"{API}/res.partner/search?{query}", headers={"Authorization": f"Bearer {self.api_key}"}
        )
        found = self.assertApiOk(response)
        self.assertEqual(
            found["records"],
            [{"id": created["id"], "name": "JS Customer", "email": "js@example.com"}],
        )
        # searchRecords(model) with its defaults: domain=[] and an empty fields=
        query = urlencode({"domain": json.dumps([]), "fields": ",".join([])})
        self.assertEqual(query, "domain=%5B%5D&fields=")
        response = self.url_open(
            f"{API}/res.partner/search?{query}", headers={"Authorization": f"Bearer {self.api_key}"}
        )
        everything = self.assertApiOk(response)
        self.assertEqual(
            everything["count"], self.Partner.with_user(self.api_user).search_count([])
        )
        self.assertIn("name", everything["records"][0])

    def test_javascript_sdk_with_node(self):
        node = shutil.which("node")
        if not node:
            self.skipTest(
                "node is not installed: the JavaScript SDK's requests are replayed instead"
            )
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp, "sdk.mjs")
            script.write_text(JS_SDK)
            with self.outside_client():
                run = subprocess.run(
                    [node, str(script), self.base_url(), self.api_key],
                    capture_output=True, text=True, timeout=60, check=False,
                    preexec_fn=_lift_memory_limit,
                )  # fmt: skip
        self.assertEqual(run.returncode, 0, run.stderr)
        output = json.loads(run.stdout)
        result = output["result"]
        self.assertIs(result["success"], True, result)
        partner = self.Partner.browse(result["id"])
        self.assertEqual((partner.name, partner.email), ("New Customer", "customer@example.com"))
        self.assertEqual(output["found"]["count"], 1)
        self.assertEqual(
            output["found"]["records"],
            [{"id": partner.id, "name": "New Customer", "email": "customer@example.com"}],
        )
        everything = output["everything"]
        self.assertIs(everything["success"], True, everything)
        self.assertEqual(
            everything["count"], self.Partner.with_user(self.api_user).search_count([])
        )
