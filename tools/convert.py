"""Field transformations between JSON and Odoo values (sync-api-reference "Field Transformations").

Out: datetimes as ISO 8601 UTC (``2024-01-15T10:30:00Z``), dates ``YYYY-MM-DD``, many2one as
``{"id", "name"}``, x2many as id lists, empty values as null. In: the same shapes, plus many2one
as a bare id and x2many as Odoo command lists.
"""

import base64
import binascii
import datetime

from .errors import field_error

DATETIME_OUT = "%Y-%m-%dT%H:%M:%SZ"
INT4_MIN, INT4_MAX = -(2**31), 2**31 - 1  # integer fields are PostgreSQL int4 columns


def value_out(ftype, value):
    """JSON value of a field value as returned by ``read()``."""
    if ftype == "boolean":
        return bool(value)
    if value is False or value is None:
        return None
    if ftype == "many2one":
        return {"id": value[0], "name": value[1]}
    if ftype == "datetime":
        if isinstance(value, str):
            value = datetime.datetime.fromisoformat(value)
        return value.strftime(DATETIME_OUT)
    if ftype == "date":
        return value if isinstance(value, str) else value.isoformat()
    if ftype == "binary" and isinstance(value, bytes):
        return value.decode()
    if ftype == "html":
        return str(value)
    return value


def parse_datetime(name, value):
    """ISO 8601 (``Z``, an offset, or naive UTC) to Odoo's naive UTC datetime."""
    if not isinstance(value, str):
        raise field_error(name, f"{name}: expected an ISO 8601 datetime string", value, "type")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise field_error(
            name,
            f"{name}: invalid datetime {value!r}, expected YYYY-MM-DDTHH:MM:SSZ",
            value,
            "format",
        ) from None
    if parsed.tzinfo:
        parsed = parsed.astimezone(datetime.UTC).replace(tzinfo=None)
    return parsed.replace(microsecond=0)


def parse_date(name, value):
    try:
        return datetime.date.fromisoformat(value.strip()[:10])
    except (AttributeError, ValueError):
        raise field_error(
            name, f"{name}: invalid date {value!r}, expected YYYY-MM-DD", value, "format"
        ) from None


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def record_id(name, value):
    """An id given as ``42`` or ``{"id": 42}``."""
    if isinstance(value, dict):
        value = value.get("id")
    if not _is_int(value) or not 0 < value <= INT4_MAX:
        raise field_error(name, f"{name}: expected a record id", value, "type")
    return value


def scalar_in(name, ftype, value, selection=None):
    """Odoo value of a non-relational field; raises a field error on a wrong type."""
    if value is None:
        return False
    if ftype == "boolean":
        if isinstance(value, bool):
            return value
    elif ftype == "integer":
        if _is_int(value):
            if not INT4_MIN <= value <= INT4_MAX:
                raise field_error(name, f"{name}: {value} is out of range", value, "range")
            return value
    elif ftype in ("float", "monetary"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    elif ftype in ("char", "text", "html"):
        if isinstance(value, str):
            if "\x00" in value:  # PostgreSQL text cannot hold it
                raise field_error(name, f"{name}: NUL characters are not allowed", None, "format")
            return value
    elif ftype == "selection":
        if selection is not None and value not in selection:
            raise field_error(
                name,
                f"{name}: {value!r} is not one of {sorted(map(str, selection))}",
                value,
                "selection",
            )
        return value
    elif ftype == "datetime":
        return parse_datetime(name, value)
    elif ftype == "date":
        return parse_date(name, value)
    elif ftype == "binary":
        if isinstance(value, str):
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise field_error(name, f"{name}: expected base64 data", None, "format") from None
            return value
    else:  # reference, json, properties...: the ORM validates them
        return value
    raise field_error(name, f"{name}: wrong type for a {ftype} field", value, "type")


def x2many_in(name, value, add_ref, convert_vals):
    """Normalise an x2many input to Odoo commands.

    A list of ids means "replace by these"; otherwise each item is a command
    ``[code, id, values]``. ``add_ref(id)`` collects linked ids for an access check, and
    ``convert_vals(values)`` converts nested values for the comodel.
    """
    if value is None or value is False:
        return [(5, 0, 0)]
    if not isinstance(value, list):
        raise field_error(name, f"{name}: expected a list of ids or of commands", value, "type")
    if all(_is_int(item) for item in value):
        for item in value:
            add_ref(item)
        return [(6, 0, value)]
    commands = []
    for command in value:
        if not isinstance(command, (list, tuple)) or not command or command[0] not in range(7):
            raise field_error(name, f"{name}: invalid command {command!r}", command, "command")
        code = command[0]
        args = list(command[1:]) + [0] * (3 - len(command))
        if code == 0:
            if not isinstance(args[1], dict):
                raise field_error(name, f"{name}: [0, 0, {{values}}] expected", command, "command")
            commands.append((0, 0, convert_vals(args[1])))
        elif code == 1:
            if not isinstance(args[1], dict):
                raise field_error(name, f"{name}: [1, id, {{values}}] expected", command, "command")
            commands.append((1, record_id(name, args[0]), convert_vals(args[1])))
        elif code in (2, 3, 4):
            target = record_id(name, args[0])
            if code == 4:
                add_ref(target)
            commands.append((code, target, 0))
        elif code == 5:
            commands.append((5, 0, 0))
        else:
            ids = args[1]
            if not isinstance(ids, list) or not all(_is_int(i) for i in ids):
                raise field_error(name, f"{name}: [6, 0, [ids]] expected", command, "command")
            for target in ids:
                add_ref(target)
            commands.append((6, 0, ids))
    return commands
