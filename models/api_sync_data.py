from urllib.parse import urlencode

from odoo import api, models
from odoo.tools import ormcache

from ..tools import convert, query
from ..tools.errors import (
    DuplicateRecord,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    field_error,
)
from ..tools.policy import is_secret_field, is_technical_model

MAGIC_FIELDS = frozenset(
    {"id", "create_uid", "create_date", "write_uid", "write_date", "display_name"}
)
HEAVY_TYPES = frozenset(
    {"binary", "one2many", "many2many", "properties", "properties_definition", "json"}
)
NOISY_PREFIXES = ("message_", "activity_", "website_message", "rating_", "access_")
QUIET_CONTEXT = {
    "tracking_disable": True,
    "mail_notrack": True,
    "mail_create_nolog": True,
    "mail_auto_subscribe_no_notify": True,
}
XMLID_NAMESPACE = "__api_sync__"
OPERATION_OF_METHOD = {"create": "create", "update": "write", "delete": "delete", "upsert": "write"}


class ApiSyncData(models.AbstractModel):
    """The data operations of ``/api/sync/v1/{model}``, run as the caller's Odoo user.

    Every method takes the caller's :class:`~..tools.identity.Identity`; ``self.env`` is the
    caller's environment, so access rights and record rules apply to everything done here.
    """

    _name = "api.sync.data"
    _description = "API Sync Data Service"

    # -- model and field policy ----------------------------------------------------------------
    @api.model
    def _model(self, identity, model_name, operation):
        """The caller's recordset of ``model_name``, after the client's model policy."""
        Model = self.env.get(model_name)
        if Model is None or Model._abstract or Model._transient:
            raise NotFound(self.env._("Unknown model %s", model_name), {"model": model_name})
        if identity.client_id:
            client = self.env["api.sync.client"].sudo().browse(identity.client_id)
            rule = client._rule_for(model_name)
            if not rule:
                raise PermissionDenied(
                    self.env._("Model %s is not allowed for this client", model_name),
                    {"model": model_name},
                )
            if operation not in rule._operations():
                raise PermissionDenied(
                    self.env._(
                        "Operation %(op)s on %(model)s is not allowed for this client",
                        op=operation,
                        model=model_name,
                    ),
                    {"model": model_name, "operation": operation},
                )
        elif is_technical_model(model_name):
            raise PermissionDenied(
                self.env._("Model %s is not exposed by the sync API", model_name),
                {"model": model_name},
            )
        return Model

    @api.model
    def _fields_of(self, model_name):
        """The fields of ``model_name`` the caller may read (for domains and orders)."""
        return _ReadableFields(self.env[model_name])

    @api.model
    @ormcache("model_name")
    def _default_field_names(self, model_name):
        """Stored, light fields: no binaries, x2many, secrets, chatter or heavy computed."""
        names = ["id", "display_name"]
        for name, field in self.env[model_name]._fields.items():
            if (
                name in MAGIC_FIELDS
                or not field.store
                or field.type in HEAVY_TYPES
                or name.startswith(NOISY_PREFIXES)
                or is_secret_field(name)
            ):
                continue
            names.append(name)
        return (*names, "create_date", "write_date")

    @api.model
    def _readable(self, Model, names):
        """The ``names`` that are fields of ``Model`` its user may read (the others dropped)."""
        return [
            name
            for name in names
            if name in Model._fields and Model._has_field_access(Model._fields[name], "read")
        ]

    @api.model
    def _read_field_names(self, Model, requested):
        """Validated field names to read: the requested ones, else the default set."""
        if not requested:
            return self._readable(Model, self._default_field_names(Model._name))
        names = ["id"] if "id" not in requested else []
        for name in requested:
            field = Model._fields.get(name)
            if field is None or is_secret_field(name):
                raise field_error(
                    name,
                    self.env._("Unknown field %(f)s on %(m)s", f=name, m=Model._name),
                    name,
                    "field",
                )
            if not Model._has_field_access(field, "read"):
                raise PermissionDenied(
                    self.env._("Field %s is not readable", name), {"field": name}
                )
            names.append(name)
        return names

    @api.model
    def _serialize(self, records, names, searched=False):
        """JSON dicts of ``records`` with ``names``, in the API's field formats.

        ``searched``: the records come from :meth:`_search_fetch`, which checked the access and
        fetched the fields, so they are formatted from the cache as ``search_read`` does.
        """
        Model = records.browse()
        types = {name: Model._fields[name].type for name in names}
        fnames = [n for n in names if n != "id"]
        rows = records._read_format(fnames) if searched else records.read(fnames)
        return [{name: convert.value_out(types[name], row[name]) for name in names} for row in rows]

    @api.model
    def _search_fetch(self, Model, domain, names, **kwargs):
        """Matching records with ``names`` fetched in the same query (like ``search_read``)."""
        field_names = [n for n in names if n != "id"]
        return self._query(Model.search_fetch, domain, field_names=field_names, **kwargs)

    # -- input values --------------------------------------------------------------------------
    @api.model
    def _prepare_vals_list(self, Model, data_list, *, lenient=False):
        """Convert JSON values to ORM values, checking fields, types and linked records."""
        refs = {}
        vals_list = [self._prepare_vals(Model, data, refs, lenient) for data in data_list]
        self._check_refs(refs)
        return vals_list

    @api.model
    def _prepare_vals(self, Model, data, refs, lenient):
        if not isinstance(data, dict):
            raise ValidationFailed(self.env._("`data` must be a JSON object"), {"field": "data"})
        vals = {}
        for name, value in data.items():
            field = Model._fields.get(name)
            if field is None or is_secret_field(name):
                if lenient and field is None:
                    continue
                raise field_error(
                    name,
                    self.env._("Unknown field %(f)s on %(m)s", f=name, m=Model._name),
                    None,
                    "field",
                )
            if (
                name in MAGIC_FIELDS
                or field.readonly
                or not Model._has_field_access(field, "write")
            ):
                raise field_error(name, self.env._("Field %s is read-only", name), None, "readonly")
            if field.type == "many2one":
                vals[name] = convert.record_id(name, value) if value not in (None, False) else False
                if vals[name]:
                    refs.setdefault((name, field.comodel_name), set()).add(vals[name])
            elif field.type in ("one2many", "many2many"):
                Comodel = self.env[field.comodel_name]
                linked = refs.setdefault((name, field.comodel_name), set())
                vals[name] = convert.x2many_in(
                    name,
                    value,
                    linked.add,
                    lambda sub, Comodel=Comodel: self._prepare_vals(Comodel, sub, refs, lenient),
                )
            else:
                selection = None
                if field.type == "selection" and value is not None:
                    selection = [key for key, _label in field._description_selection(self.env)]
                vals[name] = convert.scalar_in(name, field.type, value, selection)
        return vals

    @api.model
    def _check_refs(self, refs):
        """Linked records must exist and be readable by the caller; one that exists but is not
        readable gets the same answer as a missing one (no oracle on other companies' ids)."""
        for (name, comodel), ids in refs.items():
            if not ids:
                continue
            records = self.env[comodel].browse(ids)
            missing = set(ids) - set(records.exists()._filtered_access("read").ids)
            if missing:
                raise field_error(
                    name,
                    self.env._(
                        "%(f)s: no %(m)s with id %(ids)s", f=name, m=comodel, ids=sorted(missing)
                    ),
                    sorted(missing),
                    "exists",
                )

    @api.model
    def _browse_one(self, Model, record_id):
        """The record ``record_id``; 404 when it is missing or the caller may not read it (the
        same answer for both, so ids of other companies cannot be probed)."""
        record = Model.browse(record_id).exists()._filtered_access("read")
        if not record:
            raise NotFound(
                self.env._("%(m)s %(id)s not found", m=Model._name, id=record_id),
                {"model": Model._name, "id": record_id},
            )
        return record

    @api.model
    def _context_for(self, options):
        return {} if options.get("trigger_workflow", True) else QUIET_CONTEXT

    @api.model
    def _check_lenient(self, identity, options):
        if not options.get("skip_validation"):
            return False
        if not identity.client_id:
            raise PermissionDenied(
                self.env._(
                    "skip_validation is reserved to API clients allowed to use it; a login with "
                    "a username and a password or an API key has no API client"
                ),
                {"option": "skip_validation"},
            )
        client = self.env["api.sync.client"].sudo().browse(identity.client_id)
        if not client.allow_skip_validation:
            raise PermissionDenied(
                self.env._("This client may not use skip_validation"), {"option": "skip_validation"}
            )
        return True

    # -- single-record operations --------------------------------------------------------------
    @api.model
    def _create(self, identity, model_name, data, options):
        Model = self._model(identity, model_name, "create")
        lenient = self._check_lenient(identity, options)
        [vals] = self._prepare_vals_list(Model, [data], lenient=lenient)
        record = Model.with_context(**self._context_for(options)).create(vals)
        names = self._read_field_names(Model, options.get("return_fields") or ["display_name"])
        self.env.flush_all()
        return {"id": record.id, "data": self._serialize(record, names)[0]}

    @api.model
    def _read(self, identity, model_name, record_id, field_names):
        Model = self._model(identity, model_name, "read")
        record = self._browse_one(Model, record_id)
        return self._serialize(record, self._read_field_names(Model, field_names))[0]

    @api.model
    def _update(self, identity, model_name, record_id, data, options):
        Model = self._model(identity, model_name, "write")
        record = self._browse_one(Model, record_id)
        lenient = self._check_lenient(identity, options)
        if not options.get("partial_update", True):
            missing = [
                name
                for name, field in Model._fields.items()
                if field.required
                and not field.readonly
                and name not in data
                and name not in MAGIC_FIELDS
            ]
            if missing:
                raise field_error(
                    missing[0],
                    self.env._(
                        "A full update (partial_update=false) must set "
                        "every required field; missing: %s",
                        ", ".join(missing),
                    ),
                    None,
                    "required",
                )
        [vals] = self._prepare_vals_list(Model, [data], lenient=lenient)
        record.with_context(**self._context_for(options)).write(vals)
        self.env.flush_all()
        result = {
            "id": record.id,
            "updated_fields": list(vals),
            "write_date": convert.value_out("datetime", record.write_date),
        }
        if options.get("return_fields"):
            names = self._read_field_names(Model, options["return_fields"])
            result["data"] = self._serialize(record, names)[0]
        return result

    @api.model
    def _delete(self, identity, model_name, record_id, options):
        operation = "write" if options.get("archive_instead") else "delete"
        Model = self._model(identity, model_name, operation)
        message = self._delete_record(self._browse_one(Model, record_id), options)
        self.env.flush_all()
        return {"message": message, "id": record_id}

    @api.model
    def _delete_record(self, record, options):
        """Archive (``archive_instead``) or delete ``record``; ``cascade`` deletes its children."""
        if options.get("archive_instead"):
            if "active" not in record._fields:
                raise ValidationFailed(
                    self.env._("%s records cannot be archived", record._name),
                    {"option": "archive_instead"},
                )
            record.action_archive()
            return "Record archived successfully"
        dependents = self._dependents(record)
        if dependents and not options.get("cascade"):
            name, count = next(iter(dependents.items()))
            raise ValidationFailed(
                self.env._(
                    "The record has %(n)s linked record(s) in %(f)s: delete with cascade=true",
                    n=count,
                    f=name,
                ),
                {"field": name, "constraint": "cascade"},
            )
        for name in dependents:
            record[name].unlink()
        record.unlink()
        return "Record deleted successfully"

    @api.model
    def _dependents(self, record):
        """{one2many field: count} of children that plain deletion would leave behind."""
        result = {}
        for name, field in record._fields.items():
            if field.type != "one2many" or not field.store or is_secret_field(name):
                continue
            inverse = self.env[field.comodel_name]._fields.get(field.inverse_name)
            if inverse is None or inverse.type != "many2one" or inverse.ondelete == "cascade":
                continue
            if not record._has_field_access(field, "read") or not self.env[
                field.comodel_name
            ].has_access("read"):
                continue  # children the caller cannot even see are not theirs to cascade
            count = len(record[name])
            if count:
                result[name] = count
        return result

    # -- search and list -----------------------------------------------------------------------
    @api.model
    def _search_params(self, Model, params):
        """Validated (domain, field names, order) from query-string parameters."""
        domain = params.get("domain")
        if isinstance(domain, list):  # a repeated parameter: see query.domain_from_tokens
            domain = query.domain_from_tokens(Model._name, domain, self._fields_of)
        else:
            domain = query.parse_json_param("domain", domain) if domain not in (None, "") else []
        query.check_domain(Model._name, domain, self._fields_of)
        requested = [
            name.strip() for name in (params.get("fields") or "").split(",") if name.strip()
        ]
        order = params.get("order") or (params.get("sort") and query.sort_to_order(params["sort"]))
        order = query.check_order(Model._name, order, self._fields_of) if order else None
        return domain, self._read_field_names(Model, requested), order

    @api.model
    def _query(self, method, domain, where="domain", **kwargs):
        """``search``/``search_count``, with the ORM's ValueError on a domain value (a date that
        is not a date, text for a number, a NUL character) answered as a 400 on ``where``."""
        try:
            return method(domain, **kwargs)
        except (ValueError, TypeError) as exc:
            raise field_error(
                where, self.env._("%(w)s: %(e)s", w=where, e=exc), None, "value"
            ) from None

    @api.model
    def _limit_cap(self):
        return self.env["api.sync.auth"]._param("search_limit_cap")

    @api.model
    def _search(self, identity, model_name, params):
        Model = self._model(identity, model_name, "read")
        domain, names, order = self._search_params(Model, params)
        limit = query.parse_int("limit", params.get("limit"), 80, 1, self._limit_cap())
        offset = query.parse_int("offset", params.get("offset"), 0)
        records = self._search_fetch(Model, domain, names, offset=offset, limit=limit, order=order)
        if len(records) < limit and (records or not offset):
            count = offset + len(records)  # the last page: no need to count
        else:
            count = self._query(Model.search_count, domain)
        return {"count": count, "records": self._serialize(records, names, searched=True)}

    @api.model
    def _list(self, identity, model_name, params, base_path):
        Model = self._model(identity, model_name, "read")
        domain, names, order = self._search_params(Model, params)
        page = query.parse_int("page", params.get("page"), 1, 1)
        per_page = query.parse_int("per_page", params.get("per_page"), 50, 1, self._limit_cap())
        total = self._query(Model.search_count, domain)
        records = self._search_fetch(
            Model, domain, names, offset=(page - 1) * per_page, limit=per_page, order=order
        )
        pages = max(-(-total // per_page), 1)

        def link(target):
            if not 1 <= target <= pages:
                return None
            return f"{base_path}?" + urlencode({**params, "page": target}, doseq=True)

        return {
            "data": self._serialize(records, names, searched=True),
            "pagination": {
                "total": total,
                "page": page,
                "per_page": per_page,
                "pages": pages,
                "next": link(page + 1),
                "previous": link(page - 1),
            },
        }

    # -- upsert --------------------------------------------------------------------------------
    @api.model
    def _xmlid_namespaces(self, identity):
        """Modules an upsert's ``external_id`` may live in; the first one is the default."""
        if identity.client_id:
            return (f"{XMLID_NAMESPACE[:-2]}_{identity.client_id}__", XMLID_NAMESPACE)
        return (XMLID_NAMESPACE,)

    @api.model
    def _external_xmlid(self, external_id, namespaces):
        """``module.name`` of an ``external_id``; 400 outside the caller's ``namespaces`` (ids of
        Odoo or other modules are neither looked up nor created)."""
        module, dot, name = external_id.partition(".")
        if not dot:
            module, name = namespaces[0], external_id
        if module not in namespaces or not name:
            raise field_error(
                "external_id",
                self.env._(
                    "external_id must be a name, or module.name with module one of %s",
                    ", ".join(namespaces),
                ),
                external_id,
                "namespace",
            )
        return f"{module}.{name}"

    @api.model
    def _upsert_target(self, Model, op, namespaces):
        """The record an upsert operation updates, or an empty recordset to create."""
        if op.get("external_id"):
            xmlid = self._external_xmlid(op["external_id"], namespaces)
            record = self.env.ref(xmlid, raise_if_not_found=False)
            if record is not None and record._name != Model._name:
                raise field_error(
                    "external_id", self.env._("%s belongs to another model", xmlid), xmlid, "model"
                )
            return (record or Model.browse()).exists()
        match = op["match"]
        domain = []
        for name, value in match.items():
            field = Model._fields.get(name)
            if field is None or is_secret_field(name) or not field.store:
                raise field_error(
                    f"match.{name}", self.env._("Cannot match on %s", name), name, "field"
                )
            domain.append((name, "=", value))
        query.check_domain(Model._name, [list(term) for term in domain], self._fields_of, "match")
        records = self._query(Model.search, domain, limit=2, where="match")
        if len(records) > 1:
            raise DuplicateRecord(self.env._("Several records match %s", match), {"match": match})
        return records

    @api.model
    def _register_external_id(self, record, external_id, namespaces):
        module, _dot, name = self._external_xmlid(external_id, namespaces).partition(".")
        self.env["ir.model.data"].sudo().create(
            {"module": module, "name": name, "model": record._name, "res_id": record.id}
        )


class _ReadableFields:
    """``{name: field}`` view of a model's fields restricted to those its user may read."""

    __slots__ = ("_model",)

    def __init__(self, model):
        self._model = model

    def get(self, name, default=None):
        field = self._model._fields.get(name)
        if field is None or not self._model._has_field_access(field, "read"):
            return default
        return field
