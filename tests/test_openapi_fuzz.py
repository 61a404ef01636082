import json
import logging

from odoo.tests import tagged
from odoo.tools import mute_logger

from .openapi_common import ApiSyncOpenApiCase

_logger = logging.getLogger(__name__)

EXAMPLES_PER_OPERATION = 12  # per generation mode (valid data, then invalid data)
SEED = 20261130
# logout would revoke the fuzzer's own token; every other operation is fuzzed
SKIPPED_OPERATIONS = frozenset({"logout"})


@tagged("post_install", "-at_install")
class TestOpenApiFuzz(ApiSyncOpenApiCase):
    """schemathesis against the live server, from the document a client on partners and
    products gets: no server error, no answer outside the document, no undocumented status."""

    def test_schemathesis_finds_nothing(self):
        try:
            import hypothesis  # noqa: PLC0415 -- test-only dependencies
            import schemathesis  # noqa: PLC0415
            from schemathesis import checks as st_checks  # noqa: PLC0415
            from schemathesis.specs.openapi import checks as oa_checks  # noqa: PLC0415
        except ImportError as exc:
            self.skipTest(f"schemathesis is not installed (pip install schemathesis): {exc}")
        token = self.token_of(self.shop_client)
        document = self.document(token)
        schema = schemathesis.openapi.from_dict(document)
        checks = [
            st_checks.not_a_server_error,
            oa_checks.status_code_conformance,
            oa_checks.content_type_conformance,
            oa_checks.response_schema_conformance,
            oa_checks.response_headers_conformance,
        ]
        settings = hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            database=None,
            deadline=None,
            derandomize=True,
            phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        failures, counts = [], {"requests": 0, "operations": 0}

        def fuzzer(strategy, label):
            """A test function running ``strategy``'s cases (hypothesis supplies ``case``)."""

            @hypothesis.seed(SEED)
            @settings
            @hypothesis.given(case=strategy)
            def fuzz(case):
                # self.opener: requests' Session bound to this test's transaction
                response = case.call(
                    base_url=document["servers"][0]["url"],
                    session=self.opener,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=60,
                )
                counts["requests"] += 1
                try:
                    case.validate_response(response, checks=checks)
                except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 -- reported below
                    failures.append(
                        f"{label} {response.status_code}: {exc}\n  body: {str(case.body)[:300]}"
                        f"\n  query: {case.query}\n  answer: {response.text[:500]}"
                    )

            return fuzz

        # the checks do catch a wrong answer: /ping against a document that misdescribes it
        wrong = json.loads(json.dumps(document))
        ping_ok = wrong["paths"]["/ping"]["get"]["responses"]["200"]["content"]
        ping_ok["application/json"]["schema"]["required"].append("missing_property")
        ping = schemathesis.openapi.from_dict(wrong)["/ping"]["GET"]
        fuzzer(ping.as_strategy(), "self-check")()  # pylint: disable=no-value-for-parameter
        self.assertTrue(failures)
        self.assertTrue(all("missing_property" in failure for failure in failures), failures)
        failures.clear()
        counts["requests"] = 0

        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.definition.raw.get("operationId") in SKIPPED_OPERATIONS:
                continue
            counts["operations"] += 1
            # the document's own examples first, then generated valid and invalid input
            strategies = [
                (strategy, "examples")
                for strategy in schema.get_strategies_from_examples(operation)
            ]
            strategies += [
                (operation.as_strategy(generation_mode=mode), mode.value)
                for mode in schemathesis.GenerationMode
            ]
            for strategy, kind in strategies:
                try:
                    # integrity errors are answered as 400s; Odoo logs their SQL as errors
                    with mute_logger("odoo.sql_db"):
                        run = fuzzer(strategy, f"{operation.label} [{kind}]")
                        run()  # pylint: disable=no-value-for-parameter
                except hypothesis.errors.Unsatisfiable:
                    # nothing to make invalid (e.g. GET /ping has no input)
                    self.assertEqual(kind, "negative", operation.label)
        _logger.info("schemathesis: %(requests)s requests on %(operations)s operations", counts)
        self.assertGreater(counts["requests"], counts["operations"] * 2)
        self.assertFalse(failures, "\n".join(failures[:20]) + f"\n({len(failures)} failures)")
