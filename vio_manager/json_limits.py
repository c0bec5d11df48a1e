"""JSON from outside (API bodies, template files) read within bounds: a size, a nesting depth, a number of
digits per number, no NaN or Infinity, no NUL or lone surrogate in any string. What breaks a bound is a
JsonRefused (a 400 with its reason), never a RecursionError, a ValueError from int() or a database error
later on."""

import json
import math

MAX_DEPTH = 32  # a spec nests 5 deep; a template document 6
MAX_DIGITS = 30  # ports and versions; more is not a number a spec or template holds


class JsonRefused(ValueError):
    pass


def _int(text: str) -> int:
    if len(text) > MAX_DIGITS + 1:
        raise JsonRefused(f"a number has {len(text.lstrip('-'))} digits; at most {MAX_DIGITS} are accepted")
    return int(text)


def _float(text: str) -> float:
    if len(text) > 2 * MAX_DIGITS:
        raise JsonRefused(f"a number is {len(text)} characters long; at most {2 * MAX_DIGITS} are accepted")
    value = float(text)
    if not math.isfinite(value):
        raise JsonRefused(f"{text} is too large a number")
    return value


def _constant(name: str):
    raise JsonRefused(f"{name} is not JSON")


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return "strings must not contain NUL (\\u0000) characters"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "strings must not contain lone surrogates (\\ud800-\\udfff without their pair)"
    return None


def check_tree(data, max_depth: int = MAX_DEPTH) -> None:
    """Depth and strings of parsed JSON, without recursion (a deep document must not exhaust the stack here)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > max_depth:
                raise JsonRefused(f"the document nests deeper than {max_depth} levels")
            items = value.items() if isinstance(value, dict) else ((None, item) for item in value)
            for key, item in items:
                if key is not None:
                    stack.append((key, depth))
                stack.append((item, depth + 1))
        elif isinstance(value, str):
            problem = _bad_text(value)
            if problem:
                raise JsonRefused(problem)


def loads(text: str | bytes, *, max_bytes: int | None = None, max_depth: int = MAX_DEPTH):
    """json.loads within the bounds above; JsonRefused says which one was crossed."""
    if max_bytes is not None and len(text) > max_bytes:
        raise JsonRefused(f"the document is {len(text)} bytes; at most {max_bytes} are accepted")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonRefused(f"the document is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise JsonRefused(f"the document nests deeper than {max_depth} levels") from None
    except JsonRefused:
        raise
    except ValueError as exc:  # json.JSONDecodeError included
        raise JsonRefused(f"not valid JSON: {exc}") from None
    check_tree(data, max_depth)
    return data
