"""Shared fixtures of the api_sync tests: users, API keys, clients and an HTTP helper."""

from odoo.tests import HttpCase, new_test_user

API = "/api/sync/v1"


class ApiSyncHttpCase(HttpCase):
    """Real HTTP calls to ``/api/sync/v1`` on the test server (127.0.0.1)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.api_user = new_test_user(
            cls.env,
            login="api_user",
            password="api_user_pw",
            groups="base.group_user,base.group_partner_manager,api_sync.group_api_sync_user",
            name="API User",
            email="api_user@example.com",
        )
        cls.api_key = (
            cls.env["res.users.apikeys"]
            .with_user(cls.api_user)
            .sudo()
            ._generate(None, "tests", None)
        )
        cls.client_user = new_test_user(
            cls.env,
            login="client_user",
            groups="base.group_user,base.group_partner_manager",
            name="Client User",
        )
        cls.client = cls.env["api.sync.client"].create(
            {
                "name": "Test Client",
                "user_id": cls.client_user.id,
                "rule_ids": [
                    (0, 0, {
                        "model_id": cls.env["ir.model"]._get_id("res.partner"),
                        "perm_read": True, "perm_create": True,
                        "perm_write": True, "perm_unlink": True,
                    }),
                    (0, 0, {
                        "model_id": cls.env["ir.model"]._get_id("res.country"),
                        "perm_read": True,
                    }),
                ],
            }
        )  # fmt: skip
        cls.client_secret = cls.client._generate_secret()

    def setUp(self):
        super().setUp()
        # Odoo's own login cooldown counts failed logins per IP in memory, across tests (it is not
        # rolled back): start each test with a clean slate so failures of one test do not lock
        # out the logins of the next ones.
        failures = getattr(self.registry, "_login_failures", None)
        if failures is not None:
            failures.clear()

    # -- helpers -------------------------------------------------------------------------------
    def api(self, method, path, json=None, token=None, headers=None, params=None, data=None):
        """Call ``/api/sync/v1{path}``; ``token`` defaults to the API user's API key."""
        headers = dict(headers or {})
        if token is not False:
            headers.setdefault("Authorization", f"Bearer {token or self.api_key}")
        return self.url_open(
            API + path, method=method, json=json, headers=headers, params=params, data=data
        )

    def login_attempt(self, credentials):
        """``POST /auth/login`` with ``credentials``, without a token; the raw response."""
        return self.api("POST", "/auth/login", json=credentials, token=False)

    def login(self, **credentials):
        """Log in; returns the ``data`` part of the answer (tokens and user)."""
        credentials = credentials or {"username": "api_user", "password": "api_user_pw"}
        response = self.login_attempt(credentials)
        self.assertEqual(response.status_code, 200, response.text)
        return response.json()["data"]

    def client_token(self):
        return self.login(client_id=self.client.identifier, client_secret=self.client_secret)[
            "access_token"
        ]

    def assertApiError(self, response, status, code, field=None):
        """The response is the documented error envelope with ``status`` and ``code``."""
        self.assertEqual(response.status_code, status, response.text)
        body = response.json()
        self.assertIs(body["success"], False)
        self.assertEqual(body["error"]["code"], code, body)
        self.assertTrue(body["error"]["trace_id"].startswith("req_"))
        self.assertEqual(body["error"]["trace_id"], body["request_id"])
        self.assertEqual(response.headers["X-Request-Id"], body["request_id"])
        self.assertNotIn("Traceback", response.text)
        if field:
            self.assertEqual(body["error"]["details"]["field"], field, body)
        return body["error"]
