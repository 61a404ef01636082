"""Fixtures of the security tests (issue #7): two companies, their users and monitoring records,
a portal user, a user without the API group, a restricted client, and JSON-2 / call_kw helpers.

Company B's records carry the marker ``SECRET_B`` wherever text goes: no answer given to a
caller of company A may contain it.
"""

from odoo.tests import new_test_user

from .common import ApiSyncHttpCase

SECRET_B = "secret-b-7f3a"
API_GROUPS = "base.group_user,base.group_partner_manager,api_sync.group_api_sync_user"


class SecurityHttpCase(ApiSyncHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        cls.company_a = env.company
        cls.company_b = env["res.company"].create({"name": f"Company B {SECRET_B}"})
        # the API user of the base fixture is the user of company A
        cls.api_user.write({"company_ids": [(6, 0, cls.company_a.ids)]})
        cls.user_b = new_test_user(
            env,
            login="user_b",
            password="user_b_pw",
            groups=API_GROUPS,
            company_id=cls.company_b.id,
            company_ids=[(6, 0, cls.company_b.ids)],
        )
        cls.manager_a = new_test_user(
            env,
            login="manager_a",
            password="manager_a_pw",
            groups="base.group_user,api_sync.group_api_sync_manager",
            company_id=cls.company_a.id,
            company_ids=[(6, 0, cls.company_a.ids)],
        )
        cls.portal = new_test_user(
            env, login="portal_u", password="portal_u_pw", groups="base.group_portal"
        )
        cls.outsider = new_test_user(
            env, login="outsider_u", password="outsider_u_pw", groups="base.group_user"
        )
        Keys = env["res.users.apikeys"]
        cls.keys = {
            user.login: Keys.with_user(user).sudo()._generate(None, "security", None)
            for user in (cls.api_user, cls.user_b, cls.manager_a, cls.portal, cls.outsider)
        }
        cls.partner_a = env["res.partner"].create(
            {"name": "Partner A", "company_id": cls.company_a.id}
        )
        cls.partner_b = env["res.partner"].create(
            {"name": f"Partner {SECRET_B}", "company_id": cls.company_b.id, "vat": SECRET_B}
        )
        # the base client runs as a user of company A and may use skip_validation
        cls.client_user.write({"company_ids": [(6, 0, cls.company_a.ids)]})
        cls.client.allow_skip_validation = True
        cls._make_records_of_b()

    @classmethod
    def _make_records_of_b(cls):
        """Monitoring records of company B: a client, a session, a request log, a webhook, an
        event and its delivery."""
        env = cls.env
        cls.client_b = env["api.sync.client"].create(
            {"name": f"Client {SECRET_B}", "user_id": cls.user_b.id, "log_bodies": True}
        )
        cls.session_b = env["api.sync.auth"]._open_session(
            cls.user_b, None, "password", 30, "10.66.66.66", f"agent {SECRET_B}"
        )
        env["api.sync.request.log"]._record(
            {
                "request_id": f"req_{SECRET_B}",
                "client_id": cls.client_b.id,
                "user_id": cls.user_b.id,
                "company_id": cls.company_b.id,
                "method": "POST",
                "path": f"/api/sync/v1/res.partner/{SECRET_B}",
                "status": 201,
                "request_body": f'{{"name": "{SECRET_B}"}}',
                "response_body": f'{{"name": "{SECRET_B}"}}',
            }
        )
        cls.log_b = env["api.sync.request.log"].search([("request_id", "=", f"req_{SECRET_B}")])
        cls.webhook_b = env["api.sync.webhook"].create(
            {
                "user_id": cls.user_b.id,
                "url": f"https://{SECRET_B}.example.com/hook",
                "model_name": "res.partner",
                "events": ["record.created"],
                "secret": "whsec_b",
            }
        )
        env["api.sync.event"].with_user(cls.user_b)._insert(
            [{"event_type": "record.created", "model": "res.partner",
              "res_id": cls.partner_b.id}],
            [(1, "api.sync.webhook", cls.webhook_b.id, "record.created",
              f"res.partner,{cls.partner_b.id}", {"name": SECRET_B})],
        )  # fmt: skip
        cls.delivery_b = env["api.sync.delivery"].search([("webhook_id", "=", cls.webhook_b.id)])
        cls.event_b = cls.delivery_b.event_id
        cls.delivery_b.write({"state": "dead", "attempts": 25})
        cls.records_b = {
            "api.sync.client": cls.client_b,
            "api.sync.session": cls.session_b,
            "api.sync.request.log": cls.log_b,
            "api.sync.webhook": cls.webhook_b,
            "api.sync.event": cls.event_b,
            "api.sync.delivery": cls.delivery_b,
        }

    # -- other doors into the models -------------------------------------------------------------
    def json2(self, login, model, method, **body):
        """``POST /json/2/<model>/<method>`` with ``login``'s API key; the raw response."""
        self.opener.cookies.clear()  # no web session of an earlier call_kw
        return self.url_open(
            f"/json/2/{model}/{method}",
            json=body,
            headers={"Authorization": f"Bearer {self.keys[login]}"},
        )

    def call_kw(self, login, model, method, args=(), kwargs=None):
        """``/web/dataset/call_kw`` in a web session of ``login``; the decoded JSON-RPC answer."""
        self.authenticate(login, f"{login}_pw")
        response = self.url_open(
            f"/web/dataset/call_kw/{model}/{method}",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"model": model, "method": method, "args": list(args),
                           "kwargs": kwargs or {}},
            },
        )  # fmt: skip
        self.assertEqual(response.status_code, 200, response.text)
        return response.json()

    def state_of_b(self):
        """Everything a caller of company A must not change: B's records, as stored."""
        self.env.invalidate_all()
        state = {}
        for model, record in self.records_b.items():
            names = [
                name
                for name, field in record._fields.items()
                if field.store and field.type not in ("one2many", "many2many", "binary")
            ]
            state[model] = record.sudo().with_context(active_test=False).read(names)
        state["signing_key"] = self.env["api.sync.auth"]._signing_key()
        return state
