import logging

from odoo import api, models

from ..tools import schemas
from ..tools.errors import ApiError, InternalError, ValidationFailed, from_exception
from .api_sync_data import OPERATION_OF_METHOD

_logger = logging.getLogger(__name__)


class BatchRolledBack(ApiError):
    """A ``transaction: true`` batch in which some operation failed: nothing was written."""

    def __init__(self, first_error, results):
        failed = [r["index"] for r in results if not r["success"]]
        super().__init__(
            f"Batch rolled back: {len(failed)} operation(s) failed, the first one: "
            f"{first_error.message}",
            {"failed": failed, **first_error.details},
            status=first_error.status,
        )
        self.code = first_error.code
        self.extra = {"results": results}


class ApiSyncBatch(models.AbstractModel):
    """``POST /api/sync/v1/{model}/batch``: many operations on one model in one call."""

    _name = "api.sync.batch"
    _description = "API Sync Batch Service"

    @api.model
    def _run(self, identity, model_name, payload, trace_id):
        """Run a batch; returns ``{"success", "results"}`` or raises (nothing written)."""
        body = schemas.load(schemas.BatchBody, payload)
        options = body["options"]
        operations = body["operations"]
        Data = self.env["api.sync.data"]
        cap = self.env["api.sync.auth"]._param("batch_max_operations")
        if not operations or len(operations) > cap:
            raise ValidationFailed(
                self.env._("A batch holds from 1 to %s operations", cap),
                {"field": "operations", "constraint": "size", "value": len(operations)},
            )
        ops = [
            schemas.load(schemas.BatchOperation, op, f"operations[{index}]")
            for index, op in enumerate(operations)
        ]
        for method in {op["method"] for op in ops}:
            Data._model(identity, model_name, OPERATION_OF_METHOD[method])
            if method == "upsert":
                Data._model(identity, model_name, "create")
        run = _BatchRun(
            Data,
            self.env[model_name].with_context(**Data._context_for(options)),
            lenient=Data._check_lenient(identity, options),
            strict=options["transaction"] and not options["continue_on_error"],
            trace_id=trace_id,
            namespaces=Data._xmlid_namespaces(identity),
        )
        results = run.execute(ops, stop_on_error=not options["continue_on_error"])
        failed = [result for result in results if not result["success"]]
        if failed and options["transaction"]:
            for result in results:
                if result["success"]:
                    result.pop("id", None)
                    result["rolled_back"] = True
            raise BatchRolledBack(run.first_error, results)
        summary = {"total": len(ops), "succeeded": len(ops) - len(failed), "failed": len(failed)}
        if model_name in self.env["api.sync.sink.mixin"]._tracked_models():
            self.env["api.sync.event"]._capture_batch(
                model_name,
                {**summary, "request_id": trace_id},
                owner=(identity.client_id, identity.uid),
            )
        return {"success": not failed, "summary": summary, "results": results}


class _BatchRun:
    """The execution of one batch: strict (all-or-nothing, fail fast) or one savepoint per op."""

    def __init__(self, data, model, *, lenient, strict, trace_id, namespaces):
        self.data = data
        self.model = model
        self.env = model.env
        self.lenient = lenient
        self.strict = strict
        self.trace_id = trace_id
        self.namespaces = namespaces
        self.first_error = None

    def execute(self, ops, stop_on_error):
        results = []
        index = 0
        while index < len(ops):
            end = index + 1
            if ops[index]["method"] == "create":
                while end < len(ops) and ops[end]["method"] == "create":
                    end += 1
                results += self._create_run(ops, index, end)
            else:
                results.append(self._guarded(index, self._single, ops[index]))
            index = end
            if stop_on_error and self.first_error:
                results += [
                    {"index": i, "success": False, "skipped": True} for i in range(end, len(ops))
                ]
                break
        return results

    # -- error handling ------------------------------------------------------------------------
    def _api_error(self, exc, index):
        error = from_exception(exc)
        if error is None:
            _logger.exception("Batch operation %s failed (trace %s)", index, self.trace_id)
            error = InternalError(
                self.env._("Internal error, see the server log (trace %s)", self.trace_id)
            )
        self.first_error = self.first_error or error
        return error

    def _failure(self, index, error):
        return {"index": index, "success": False, "error": error.to_dict(self.trace_id)}

    def _guarded(self, index, func, *args):
        """Run ``func`` for operation ``index``: fail fast when strict, else in a savepoint."""
        if self.strict:
            try:
                result = func(*args)
                self.env.flush_all()
            except Exception as exc:
                error = self._api_error(exc, index)
                error.details = {"index": index, **error.details}
                raise error from exc
            return {"index": index, "success": True, **result}
        try:
            with self.env.cr.savepoint():
                result = func(*args)
        except Exception as exc:  # noqa: BLE001 -- reported in the operation's result
            return self._failure(index, self._api_error(exc, index))
        return {"index": index, "success": True, **result}

    # -- operations ----------------------------------------------------------------------------
    def _single(self, op):
        Model = self.model
        if op["method"] == "update":
            record = self.data._browse_one(Model, op["id"])
            [vals] = self.data._prepare_vals_list(Model, [op["data"]], lenient=self.lenient)
            record.write(vals)
            return {"id": record.id}
        if op["method"] == "delete":
            self.data._delete_record(self.data._browse_one(Model, op["id"]), op["options"])
            return {"id": op["id"]}
        record = self.data._upsert_target(Model, op, self.namespaces)
        data = dict(op["data"]) if record else {**op.get("match", {}), **op["data"]}
        [vals] = self.data._prepare_vals_list(Model, [data], lenient=self.lenient)
        if record:
            record.write(vals)
            return {"id": record.id, "created": False}
        record = Model.create(vals)
        if op.get("external_id"):
            self.data._register_external_id(record, op["external_id"], self.namespaces)
        return {"id": record.id, "created": True}

    def _create_run(self, ops, start, end):
        """Consecutive creates go to the ORM as one multi-record create."""
        prepared, results = [], {}
        for index in range(start, end):
            try:
                [vals] = self.data._prepare_vals_list(
                    self.model, [ops[index]["data"]], lenient=self.lenient
                )
                prepared.append((index, vals))
            except ApiError as exc:
                if self.strict:
                    exc.details = {"index": index, **exc.details}
                    self.first_error = exc
                    raise
                results[index] = self._failure(index, self._api_error(exc, index))
        if prepared:
            indexes = [index for index, _vals in prepared]
            vals_list = [vals for _index, vals in prepared]
            results.update(self._create_many(indexes, vals_list))
        return [results[index] for index in range(start, end)]

    def _create_many(self, indexes, vals_list):
        if self.strict:
            try:
                records = self.model.create(vals_list)
                self.env.flush_all()
            except Exception as exc:
                error = self._api_error(exc, indexes[0])
                error.details = {"indexes": [indexes[0], indexes[-1]], **error.details}
                raise error from exc
            return {
                index: {"index": index, "success": True, "id": rid}
                for index, rid in zip(indexes, records.ids, strict=True)
            }
        try:
            with self.env.cr.savepoint():
                records = self.model.create(vals_list)
            return {
                index: {"index": index, "success": True, "id": rid}
                for index, rid in zip(indexes, records.ids, strict=True)
            }
        except Exception:  # noqa: BLE001 -- retried one by one to find the failing ones
            return {
                index: self._guarded(index, lambda vals: {"id": self.model.create(vals).id}, vals)
                for index, vals in zip(indexes, vals_list, strict=True)
            }
