"""Validation of search input: domains, orders and the ``sort=name,-price`` syntax.

Only real fields (and dotted paths through relational fields) and Odoo's own operators get
through; nothing else reaches SQL.
"""

import ast
import re

from .errors import ValidationFailed, field_error
from .policy import is_secret_field
from .safejson import load_json

MAX_DOMAIN_DEPTH = 8  # nested ``any`` / ``not any``
MAX_DOMAIN_TERMS = 500

OPERATORS = frozenset(
    {
        "=", "!=", "<", ">", "<=", ">=", "=?",
        "like", "not like", "ilike", "not ilike", "=like", "not =like", "=ilike", "not =ilike",
        "in", "not in", "child_of", "parent_of", "any", "not any",
    }
)  # fmt: skip
LOGICAL = frozenset({"&", "|", "!"})
_ORDER_TERM = re.compile(
    r"^\s*([a-z_][a-z0-9_]*)(?:\s+(asc|desc))?(?:\s+nulls\s+(first|last))?\s*$", re.IGNORECASE
)


def parse_json_param(name, raw):
    if not isinstance(raw, (str, bytes)):
        raise field_error(name, f"{name} must be valid JSON", None, "json")
    return load_json(raw, name)


_TEXT_TYPES = frozenset({"char", "text", "html", "selection"})


def domain_from_tokens(model_name, tokens, fields_of):
    """The domain of a repeated ``domain`` parameter: how Python's ``requests`` sends a list.

    ``requests.get(url, params={"domain": [["name", "=", "x"]]})`` flattens the list one level
    into ``domain=name&domain=%3D&domain=x``, each item as ``str()``: the tokens are read back as
    ``&``/``|``/``!`` or (path, operator, value) triples. A value keeps its string on a text field;
    otherwise (and for lists, ``None``, ``False``) it is read as a Python literal (``True``, ``42``,
    ``[1, 2]``) with :func:`ast.literal_eval`, which evaluates nothing but literals.
    """
    domain = []
    index = 0
    while index < len(tokens):
        if tokens[index] in LOGICAL:
            domain.append(tokens[index])
            index += 1
            continue
        if index + 3 > len(tokens):
            raise field_error("domain", "domain: incomplete condition", tokens[index:], "domain")
        path, operator, raw = tokens[index : index + 3]
        domain.append([path, operator, _token_value(model_name, path, operator, raw, fields_of)])
        index += 3
    return domain


def _token_value(model_name, path, operator, raw, fields_of):
    field = None
    for part in path.split("."):
        field = fields_of(model_name).get(part) if model_name else None
        model_name = field.comodel_name if field is not None and field.relational else None
    text = field is not None and field.type in _TEXT_TYPES
    if (
        text
        and operator.lower() not in ("any", "not any")
        and raw not in ("None", "False")
        and (not raw.startswith("["))
    ):
        return raw
    try:
        return _as_lists(ast.literal_eval(raw))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return raw


def _as_lists(value):
    if isinstance(value, (list, tuple)):
        return [_as_lists(item) for item in value]
    return value


def check_domain(model_name, domain, fields_of, where="domain", _depth=0, _size=None):
    """Raise a 400 error unless ``domain`` is a well-formed domain on ``model_name``, of at
    most ``MAX_DOMAIN_TERMS`` terms and ``MAX_DOMAIN_DEPTH`` nested ``any``.

    ``fields_of(model_name)`` returns the ``{name: field}`` mapping of a model.
    """
    if not isinstance(domain, list):
        raise field_error(where, f"{where} must be a list of conditions", domain, "domain")
    if _depth > MAX_DOMAIN_DEPTH:
        raise field_error(
            where, f"{where} nested deeper than {MAX_DOMAIN_DEPTH} levels", None, "max_depth"
        )
    size = _size if _size is not None else [0]
    size[0] += len(domain)
    if size[0] > MAX_DOMAIN_TERMS:
        raise field_error(
            where, f"{where} has more than {MAX_DOMAIN_TERMS} terms", None, "max_terms"
        )
    for term in domain:
        if isinstance(term, str) and term in LOGICAL:
            continue
        if not (isinstance(term, (list, tuple)) and len(term) == 3):
            raise field_error(where, f"{where}: invalid term {term!r}", term, "domain")
        path, operator, value = term
        if not isinstance(path, str) or not isinstance(operator, str):
            raise field_error(where, f"{where}: invalid term {term!r}", term, "domain")
        if operator.lower() not in OPERATORS:
            raise field_error(
                where, f"{where}: unknown operator {operator!r}", operator, "operator"
            )
        comodel = _check_path(model_name, path, fields_of, where)
        if operator.lower() in ("any", "not any"):
            if comodel is None:
                raise field_error(path, f"{path}: 'any' needs a relational field", path, "operator")
            check_domain(comodel, value, fields_of, where, _depth + 1, size)
        elif not _is_plain(value):
            raise field_error(path, f"{path}: values must be JSON scalars or lists", value, "type")


def _is_plain(value):
    if isinstance(value, list):
        return all(_is_plain(item) for item in value)
    return value is None or isinstance(value, (str, int, float, bool))


def _check_path(model_name, path, fields_of, where):
    """Walk a dotted field path; return the comodel of its last field (None if not relational)."""
    parts = path.split(".")
    comodel = model_name
    for position, part in enumerate(parts):
        field = fields_of(comodel).get(part)
        if field is None or is_secret_field(part):
            raise field_error(path, f"{where}: unknown field {path!r} on {comodel}", path, "field")
        if not (field.store or field.search):
            raise field_error(
                path, f"{where}: field {part!r} is not searchable", path, "searchable"
            )
        comodel = field.comodel_name if field.relational else None
        if comodel is None and position < len(parts) - 1:
            raise field_error(path, f"{where}: {part!r} is not a relational field", path, "field")
    return comodel


def check_order(model_name, order, fields_of):
    """Normalised ``order`` string; each term must name a stored field."""
    terms = []
    for raw in order.split(","):
        match = _ORDER_TERM.match(raw)
        if not match:
            raise field_error("order", f"order: invalid term {raw.strip()!r}", raw, "order")
        name, direction, nulls = match.groups()
        field = fields_of(model_name).get(name)
        if field is None or not (field.store or name == "id") or is_secret_field(name):
            raise field_error("order", f"order: cannot sort on {name!r}", name, "order")
        term = f"{name} {(direction or 'asc').lower()}"
        if nulls:
            term += f" nulls {nulls.lower()}"
        terms.append(term)
    return ", ".join(terms)


def sort_to_order(sort):
    """``name,-list_price`` (3PL syntax) to ``name asc, list_price desc``."""
    terms = []
    for raw in sort.split(","):
        name = raw.strip()
        if not name:
            continue
        direction = "desc" if name.startswith("-") else "asc"
        terms.append(f"{name.lstrip('+-').strip()} {direction}")
    if not terms:
        raise ValidationFailed("sort: no field given", {"field": "sort"})
    return ", ".join(terms)


def parse_int(name, raw, default, minimum=0, maximum=None):
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise field_error(name, f"{name} must be an integer", raw, "type") from None
    if value < minimum:
        raise field_error(name, f"{name} must be at least {minimum}", value, "minimum")
    if maximum is not None and value > maximum:
        raise field_error(name, f"{name} must be at most {maximum}", value, "maximum")
    return value
