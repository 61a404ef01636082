import json

from odoo import api, models
from odoo.tools import ormcache

from ..tools import openapi
from ..tools.policy import OPERATIONS, is_secret_field, is_technical_model
from .api_sync_data import MAGIC_FIELDS

ACCESS_MODE = {"read": "read", "create": "create", "write": "write", "delete": "unlink"}
FIELD_ATTRIBUTES = ["type", "string", "required", "selection"]
TITLE = "API Sync"
API_VERSION = "1.0.0"


class ApiSyncOpenapi(models.AbstractModel):
    """The OpenAPI document of ``/api/sync/v1`` as a given caller sees it."""

    _name = "api.sync.openapi"
    _description = "API Sync OpenAPI Document"

    @api.model
    def _document(self, identity, server_url, only=()):
        """JSON (bytes) of the document for ``identity`` (None: anonymous).

        A client's caller gets its allowed models, a user its readable models as the ``model``
        parameter of generic paths; ``only`` (model names) asks for those models' own paths.
        Cached per caller and allowlist; the cache goes with the registry's (module updates,
        access rights and group changes clear it).
        """
        allowlist = None
        if identity and identity.client_id:
            client = self.env["api.sync.client"].sudo().browse(identity.client_id)
            allowlist = tuple(
                sorted((m, tuple(ops)) for m, ops in client._allowed_operations().items())
            )
        return self._cached_document(
            identity.uid if identity else None,
            identity.client_id if identity else 0,
            allowlist,
            server_url,
            tuple(sorted(set(only or ()))),
        )

    @api.model
    @ormcache("uid", "client_id", "allowlist", "server_url", "only")
    def _cached_document(self, uid, client_id, allowlist, server_url, only):
        auth = self.env["api.sync.auth"].sudo()
        limits = {
            "search": auth._param("search_limit_cap"),
            "batch": auth._param("batch_max_operations"),
        }
        generic = None
        infos = []
        if uid is None:
            generic = ()
        elif client_id:
            wanted = dict(allowlist)
            if only:
                wanted = {name: ops for name, ops in wanted.items() if name in only}
            infos = self._model_infos(wanted)
        elif only:
            infos = self._model_infos(
                {name: OPERATIONS for name in only if not is_technical_model(name)}
            )
        else:
            generic = self._usable_models()
        document = openapi.build(
            infos,
            title=TITLE,
            version=API_VERSION,
            server_url=server_url,
            limits=limits,
            generic_models=generic,
        )
        return json.dumps(document, separators=(",", ":")).encode()

    @api.model
    def _usable_models(self):
        """Names of the models the sync API lets this user read."""
        names = []
        for name in self.env.registry:
            Model = self.env[name]
            if (
                Model._abstract
                or Model._transient
                or is_technical_model(name)
                or not Model.has_access("read")
            ):
                continue
            names.append(name)
        return names

    @api.model
    def _model_infos(self, wanted):
        """:class:`ModelInfo` of each model in ``wanted`` ({model: client operations}) that
        exists and on which the user may do at least one of those operations."""
        infos = []
        for name in sorted(wanted):
            Model = self.env.get(name)
            if Model is None or Model._abstract or Model._transient:
                continue
            operations = tuple(op for op in wanted[name] if Model.has_access(ACCESS_MODE[op]))
            if operations:
                infos.append(self._model_info(Model, operations))
        return infos

    @api.model
    def _model_info(self, Model, operations):
        described = Model.fields_get(attributes=FIELD_ATTRIBUTES)
        fields = {name: desc for name, desc in described.items() if not is_secret_field(name)}
        writable = frozenset(
            name
            for name in fields
            if name not in MAGIC_FIELDS
            and not Model._fields[name].readonly
            and Model._has_field_access(Model._fields[name], "write")
        )
        inherits_links = set(Model._inherits.values())
        required = [
            name
            for name in writable
            if fields[name].get("required")
            and name not in inherits_links
            and fields[name]["type"] not in ("one2many", "many2many")
        ]
        defaults = Model.default_get(required) if required and "create" in operations else {}
        return openapi.ModelInfo(
            name=Model._name,
            label=Model._description or Model._name,
            operations=operations,
            fields=fields,
            create_required=frozenset(name for name in required if name not in defaults),
            writable=writable,
        )
