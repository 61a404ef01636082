import json

from odoo.tests import new_test_user, tagged

from .common import ApiSyncHttpCase


@tagged("post_install", "-at_install")
class TestRecordRules(ApiSyncHttpCase):
    """Calls run as the caller's Odoo user: multi-company record rules apply."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_a = cls.env.company
        cls.company_b = cls.env["res.company"].create({"name": "Company B"})
        cls.partner_a = cls.env["res.partner"].create(
            {"name": "Partner Of A", "company_id": cls.company_a.id}
        )
        cls.partner_b = cls.env["res.partner"].create(
            {"name": "Partner Of B", "company_id": cls.company_b.id}
        )
        groups = "base.group_user,base.group_partner_manager,api_sync.group_api_sync_user"
        cls.user_a = new_test_user(
            cls.env,
            login="user_a",
            password="user_a_pw",
            groups=groups,
            company_id=cls.company_a.id,
            company_ids=[(6, 0, cls.company_a.ids)],
        )
        cls.user_ab = new_test_user(
            cls.env,
            login="user_ab",
            password="user_ab_pw",
            groups=groups,
            company_id=cls.company_a.id,
            company_ids=[(6, 0, (cls.company_a | cls.company_b).ids)],
        )
        cls.key_a = (
            cls.env["res.users.apikeys"].with_user(cls.user_a).sudo()._generate(None, "a", None)
        )

    def tokens_of_user_a(self):
        return {
            "api_key": self.key_a,
            "jwt": self.login(username="user_a", password="user_a_pw")["access_token"],
        }

    def search_names(self, token, domain):
        response = self.api(
            "GET",
            "/res.partner/search",
            token=token,
            params={"domain": json.dumps(domain), "fields": "name", "limit": 1000},
        )
        self.assertEqual(response.status_code, 200, response.text)
        return {record["name"] for record in response.json()["records"]}

    def test_read_of_another_company_partner_is_denied(self):
        for kind, token in self.tokens_of_user_a().items():
            with self.subTest(token=kind):
                response = self.api("GET", f"/res.partner/{self.partner_b.id}", token=token)
                error = self.assertApiError(response, 404, "NOT_FOUND")
                self.assertNotIn("Partner Of B", response.text)
                self.assertNotIn("Traceback", error["message"])
                # the own company's partner is readable
                response = self.api("GET", f"/res.partner/{self.partner_a.id}", token=token)
                self.assertEqual(response.status_code, 200, response.text)
                self.assertEqual(response.json()["data"]["name"], "Partner Of A")

    def test_search_and_list_do_not_return_it(self):
        for kind, token in self.tokens_of_user_a().items():
            with self.subTest(token=kind):
                names = self.search_names(token, [["name", "like", "Partner Of"]])
                self.assertEqual(names, {"Partner Of A"})
                names = self.search_names(token, [["id", "=", self.partner_b.id]])
                self.assertEqual(names, set())
                response = self.api(
                    "GET",
                    "/res.partner",
                    token=token,
                    params={
                        "domain": json.dumps([["name", "like", "Partner Of"]]),
                        "fields": "name",
                    },
                )
                self.assertEqual(response.status_code, 200, response.text)
                body = response.json()
                self.assertEqual([r["name"] for r in body["data"]], ["Partner Of A"])
                self.assertEqual(body["pagination"]["total"], 1)

    def test_write_and_delete_of_another_company_partner_are_denied(self):
        token = self.key_a
        response = self.api(
            "PUT",
            f"/res.partner/{self.partner_b.id}",
            json={"data": {"name": "Hijacked"}},
            token=token,
        )
        self.assertApiError(response, 404, "NOT_FOUND")
        response = self.api("DELETE", f"/res.partner/{self.partner_b.id}", token=token)
        self.assertApiError(response, 404, "NOT_FOUND")
        self.assertTrue(self.partner_b.exists())
        self.assertEqual(self.partner_b.name, "Partner Of B")

    def test_cannot_link_to_another_company_partner(self):
        count = self.env["res.partner"].search_count([])
        response = self.api(
            "POST",
            "/res.partner",
            token=self.key_a,
            json={"data": {"name": "Child Of B", "parent_id": self.partner_b.id}},
        )
        self.assertIn(response.status_code, (400, 403), response.text)
        self.assertIs(response.json()["success"], False)
        self.assertEqual(self.env["res.partner"].search_count([]), count)

    def test_a_user_of_both_companies_can_read_it(self):
        """Control: the denial comes from the record rule, not from the API."""
        token = self.login(username="user_ab", password="user_ab_pw")["access_token"]
        response = self.api("GET", f"/res.partner/{self.partner_b.id}", token=token)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["data"]["name"], "Partner Of B")
        names = self.search_names(token, [["name", "like", "Partner Of"]])
        self.assertEqual(names, {"Partner Of A", "Partner Of B"})

    def test_client_runs_as_its_user(self):
        """A client's calls are limited by the record rules of its run-as user."""
        self.client.user_id = self.user_a
        token = self.client_token()
        response = self.api("GET", f"/res.partner/{self.partner_b.id}", token=token)
        self.assertApiError(response, 404, "NOT_FOUND")
        self.assertEqual(
            self.search_names(token, [["name", "like", "Partner Of"]]), {"Partner Of A"}
        )
