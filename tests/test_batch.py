"""``POST /api/sync/v1/{model}/batch``: transaction, continue_on_error, size cap, multi-create."""

from odoo.tests import tagged
from odoo.tools import mute_logger

from .data_common import ApiSyncDataCase


@tagged("post_install", "-at_install")
class TestBatch(ApiSyncDataCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.target = cls.Partner.create(
            {"name": "Batch Target", "email": "target@batch.example.com"}
        )
        cls.victim = cls.Partner.create({"name": "Batch Victim"})

    def batch(self, operations, model="res.partner", **options):
        body = {"operations": operations}
        if options:
            body["options"] = options
        return self.api("POST", f"/{model}/batch", json=body)

    def batch_partners(self):
        return self.Partner.search(
            [("email", "=like", "%@batch.example.com"), ("id", "!=", self.target.id)]
        )

    def single_error(self, method, path, json=None):
        """The error object of the same operation sent as a single call."""
        response = self.api(method, path, json=json)
        self.assertEqual(response.json()["success"], False, response.text)
        return self.error_without_trace(response.json()["error"])

    # -- transaction: true (the default) ---------------------------------------------------------
    def test_transaction_all_or_nothing(self):
        operations = [
            {"method": "create", "data": {"name": "T1", "email": "t1@batch.example.com"}},
            {"method": "update", "id": self.target.id, "data": {"phone": "+1"}},
            {"method": "update", "id": self.target.id, "data": {"nope": "x"}},
            {"method": "create", "data": {"name": "T2", "email": "t2@batch.example.com"}},
        ]
        response = self.batch(operations, transaction=True, continue_on_error=False)
        error = self.assertApiError(response, 400, "VALIDATION_ERROR", field="nope")
        self.assertEqual(error["details"]["index"], 2)
        self.assertFalse(self.batch_partners())
        self.assertFalse(self.target.phone)

    def test_transaction_is_the_default(self):
        operations = [
            {"method": "create", "data": {"name": "D1", "email": "d1@batch.example.com"}},
            {"method": "delete", "id": 2_000_000_000},
        ]
        error = self.assertApiError(self.batch(operations), 404, "NOT_FOUND")
        self.assertEqual(error["details"]["index"], 1)
        self.assertFalse(self.batch_partners())

    def test_transaction_failing_create_run(self):
        """A database constraint failing in a multi-create: nothing of the batch is written."""
        operations = [
            {"method": "update", "id": self.target.id, "data": {"phone": "+2"}},
            {"method": "create", "data": {"name": "R1", "email": "r1@batch.example.com"}},
            {"method": "create", "data": {"name": None, "email": "r2@batch.example.com"}},
        ]
        with mute_logger("odoo.sql_db"):
            response = self.batch(operations)
        error = self.assertApiError(response, 400, "VALIDATION_ERROR")
        self.assertEqual(error["details"]["indexes"], [1, 2])
        self.assertFalse(self.batch_partners())
        self.assertFalse(self.target.phone)

    def test_transaction_with_continue_on_error_reports_all_then_rolls_back(self):
        operations = [
            {"method": "create", "data": {"name": "C1", "email": "c1@batch.example.com"}},
            {"method": "update", "id": self.target.id, "data": {"nope": 1}},
            {"method": "delete", "id": 2_000_000_000},
            {"method": "update", "id": self.target.id, "data": {"phone": "+3"}},
        ]
        response = self.batch(operations, transaction=True, continue_on_error=True)
        self.assertApiError(response, 400, "VALIDATION_ERROR")
        body = response.json()
        self.assertEqual(body["error"]["details"]["failed"], [1, 2])
        results = body["results"]
        self.assertEqual([r["success"] for r in results], [True, False, False, True])
        self.assertTrue(results[0]["rolled_back"])
        self.assertNotIn("id", results[0])
        self.assertEqual(results[1]["error"]["code"], "VALIDATION_ERROR")
        self.assertEqual(results[2]["error"]["code"], "NOT_FOUND")
        self.assertFalse(self.batch_partners())
        self.assertFalse(self.target.phone)

    # -- continue_on_error: every operation stands alone -----------------------------------------
    def test_continue_on_error_without_transaction(self):
        operations = [
            {"method": "create", "data": {"name": "S1", "email": "s1@batch.example.com"}},
            {"method": "update", "id": self.target.id, "data": {"nope": 1}},
            {"method": "delete", "id": 2_000_000_000},
            {"method": "update", "id": self.target.id, "data": {"phone": "+4"}},
            {
                "method": "create",
                "data": {"name": "S2", "email": "s2@batch.example.com", "color": "red"},
            },
            {"method": "create", "data": {"name": "S3", "email": "s3@batch.example.com"}},
            {"method": "delete", "id": self.victim.id},
        ]
        response = self.batch(operations, transaction=False, continue_on_error=True)
        self.assertEqual(response.status_code, 200, response.text)
        body = response.json()
        self.assertIs(body["success"], False)
        self.assertEqual(body["summary"], {"total": 7, "succeeded": 4, "failed": 3})
        results = body["results"]
        self.assertEqual([r["index"] for r in results], list(range(7)))
        self.assertEqual(
            [r["success"] for r in results], [True, False, False, True, False, True, True]
        )
        created = self.batch_partners()
        self.assertEqual(sorted(created.mapped("name")), ["S1", "S3"])
        self.assertEqual(results[0]["id"], created.filtered(lambda p: p.name == "S1").id)
        self.assertEqual(results[5]["id"], created.filtered(lambda p: p.name == "S3").id)
        self.assertEqual(self.target.phone, "+4")
        self.assertFalse(self.victim.exists())
        # the same error objects as the single calls
        for index, (method, path, payload) in {
            1: ("PUT", f"/res.partner/{self.target.id}", {"data": {"nope": 1}}),
            2: ("DELETE", "/res.partner/2000000000", None),
            4: ("POST", "/res.partner", {"data": {"name": "S2", "color": "red"}}),
        }.items():  # fmt: skip
            with self.subTest(index=index):
                self.assertTrue(results[index]["error"]["trace_id"].startswith("req_"))
                self.assertEqual(
                    self.error_without_trace(results[index]["error"]),
                    self.single_error(method, path, payload),
                )

    def test_continue_on_error_database_error_in_create_run(self):
        """A constraint failing inside a multi-create only fails its own operation."""
        operations = [
            {"method": "create", "data": {"name": "M1", "email": "m1@batch.example.com"}},
            {"method": "create", "data": {"name": None, "email": "m2@batch.example.com"}},
            {"method": "create", "data": {"name": "M3", "email": "m3@batch.example.com"}},
        ]
        with mute_logger("odoo.sql_db"):
            response = self.batch(operations, transaction=False, continue_on_error=True)
        self.assertEqual(response.status_code, 200, response.text)
        results = response.json()["results"]
        self.assertEqual([r["success"] for r in results], [True, False, True])
        self.assertEqual(results[1]["error"]["code"], "VALIDATION_ERROR")
        self.assertEqual(sorted(self.batch_partners().mapped("name")), ["M1", "M3"])

    def test_stop_on_first_error_without_transaction(self):
        """``transaction: false`` alone: stops at the first failure, earlier operations stay."""
        operations = [
            {"method": "create", "data": {"name": "P1", "email": "p1@batch.example.com"}},
            {"method": "update", "id": 2_000_000_000, "data": {"name": "x"}},
            {"method": "create", "data": {"name": "P2", "email": "p2@batch.example.com"}},
        ]
        response = self.batch(operations, transaction=False, continue_on_error=False)
        self.assertEqual(response.status_code, 200, response.text)
        results = response.json()["results"]
        self.assertEqual(results[1]["error"]["code"], "NOT_FOUND")
        self.assertEqual(results[2], {"index": 2, "success": False, "skipped": True})
        self.assertEqual(self.batch_partners().mapped("name"), ["P1"])

    # -- size cap --------------------------------------------------------------------------------
    def test_size_cap_default(self):
        for size in (1001, 10_001):
            with self.subTest(size=size):
                operations = [{"method": "create", "data": {"name": f"Big {i}",
                                                            "email": f"big{i}@batch.example.com"}}
                              for i in range(size)]  # fmt: skip
                error = self.assertApiError(
                    self.batch(operations), 400, "VALIDATION_ERROR", field="operations"
                )
                self.assertEqual(error["details"]["value"], size)
        self.assertFalse(self.batch_partners())
        error = self.assertApiError(self.batch([]), 400, "VALIDATION_ERROR", field="operations")

    def test_size_cap_configurable(self):
        self.env["ir.config_parameter"].set_param("api_sync.batch_max_operations", "3")
        operations = [
            {"method": "create", "data": {"name": f"Cap {i}", "email": f"cap{i}@batch.example.com"}}
            for i in range(4)
        ]
        self.assertApiError(self.batch(operations), 400, "VALIDATION_ERROR", field="operations")
        self.assertFalse(self.batch_partners())
        self.assertApiOk(self.batch(operations[:3]))
        self.assertEqual(len(self.batch_partners()), 3)

    # -- multi-create ----------------------------------------------------------------------------
    def test_consecutive_creates(self):
        operations = [
            {"method": "create", "data": {"name": f"Run {i}", "email": f"run{i}@batch.example.com"}}
            for i in range(5)
        ] + [
            {"method": "update", "id": self.target.id, "data": {"phone": "+5"}},
        ] + [
            {"method": "create", "data": {"name": f"Run {i}", "email": f"run{i}@batch.example.com"}}
            for i in range(5, 8)
        ]  # fmt: skip
        result = self.assertApiOk(self.batch(operations))
        results = result["results"]
        self.assertEqual([r["index"] for r in results], list(range(9)))
        self.assertTrue(all(r["success"] for r in results))
        ids = [r["id"] for i, r in enumerate(results) if i != 5]
        self.assertEqual(ids, sorted(ids))
        self.assertEqual(len(set(ids)), 8)
        self.assertEqual(results[5]["id"], self.target.id)
        for i, record_id in enumerate(ids):
            partner = self.Partner.browse(record_id)
            self.assertEqual(
                (partner.name, partner.email), (f"Run {i}", f"run{i}@batch.example.com")
            )
        self.assertEqual(result["summary"], {"total": 9, "succeeded": 9, "failed": 0})

    # -- operation shapes ------------------------------------------------------------------------
    def test_invalid_operations(self):
        for operation, field in (
            ({"method": "drop"}, "operations[0].method"),
            ({"method": "update", "data": {"name": "x"}}, "operations[0].id"),
            ({"method": "update", "id": "7", "data": {"name": "x"}}, "operations[0].id"),
            ({"method": "delete", "id": 1.5}, "operations[0].id"),
            ({"method": "create"}, "operations[0].data"),
            ({"method": "upsert", "data": {"name": "x"}}, "operations[0].match"),
        ):  # fmt: skip
            with self.subTest(operation=operation):
                self.assertApiError(self.batch([operation]), 400, "VALIDATION_ERROR", field=field)
        response = self.api("POST", "/res.partner/batch", json=[{"method": "create"}])
        self.assertApiError(response, 400, "VALIDATION_ERROR")
        response = self.api("POST", "/res.partner/batch", json={"operations": [1, 2]})
        self.assertApiError(response, 400, "VALIDATION_ERROR")

    def test_delete_and_archive_in_batch(self):
        archived = self.Partner.create({"name": "To archive"})
        operations = [
            {"method": "delete", "id": self.victim.id},
            {"method": "delete", "id": archived.id, "options": {"archive_instead": True}},
        ]
        result = self.assertApiOk(self.batch(operations))
        self.assertEqual(result["results"], [
            {"index": 0, "success": True, "id": self.victim.id},
            {"index": 1, "success": True, "id": archived.id},
        ])  # fmt: skip
        self.assertFalse(self.victim.exists())
        self.assertTrue(archived.exists())
        self.assertFalse(archived.active)

    def test_batch_needs_the_model_rights(self):
        """Without create rights on the model, a batch is refused before anything runs."""
        self.api_user.write({"group_ids": [(3, self.env.ref("product.group_product_manager").id)]})
        operations = [{"method": "create", "data": {"name": "No rights"}}]
        self.assertApiError(
            self.batch(operations, model="product.product"), 403, "PERMISSION_DENIED"
        )
        self.assertFalse(self.Product.search([("name", "=", "No rights")]))
