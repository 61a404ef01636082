"""JSON input with limits: no NaN/Infinity, a maximum nesting depth, no RecursionError."""

import json

from .errors import ValidationFailed

MAX_JSON_DEPTH = 64


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def json_depth(value):
    """Nesting depth of a decoded JSON value (iterative: no recursion on hostile input)."""
    depth, level = 0, [(value, 1)]
    while level:
        item, current = level.pop()
        if isinstance(item, (dict, list)):
            depth = max(depth, current)
            if current > MAX_JSON_DEPTH:
                return depth
            children = item.values() if isinstance(item, dict) else item
            level.extend((child, current + 1) for child in children)
    return depth


def load_json(raw, where):
    """Decode a JSON document: 400 when malformed, NaN/Infinity, or nested too deep."""
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:
        value = None
        depth = MAX_JSON_DEPTH + 1
    except ValueError as exc:
        raise ValidationFailed(
            f"Malformed JSON {where}: {exc}", {"field": where, "constraint": "json"}
        ) from None
    else:
        depth = json_depth(value)
    if depth > MAX_JSON_DEPTH:
        raise ValidationFailed(
            f"JSON {where} nested deeper than {MAX_JSON_DEPTH} levels",
            {"field": where, "constraint": "max_depth", "value": MAX_JSON_DEPTH},
        )
    return value
