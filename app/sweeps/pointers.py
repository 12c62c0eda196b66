"""RFC 6901 JSON pointers: read and replace one value inside a nested JSON document."""

from __future__ import annotations

import copy
from typing import Any

_MISSING = object()


class BadPointer(ValueError):
    pass


def tokens(pointer: str) -> list[str]:
    if not pointer.startswith("/"):
        raise BadPointer("a JSON pointer starts with '/'")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _step(node: Any, token: str) -> Any:
    if isinstance(node, dict):
        return node.get(token, _MISSING)
    if isinstance(node, list) and token.isdigit() and (token == "0" or token[0] != "0"):
        index = int(token)
        return node[index] if index < len(node) else _MISSING
    return _MISSING


def resolve(document: Any, pointer: str) -> Any:
    """The value at ``pointer``; raises BadPointer naming the first token that is not there."""
    node = document
    for depth, token in enumerate(tokens(pointer)):
        node = _step(node, token)
        if node is _MISSING:
            at = "/" + "/".join(pointer[1:].split("/")[: depth + 1])
            raise BadPointer(f"{at} does not exist in the base spec")
    return node


def with_value(document: Any, pointer: str, value: Any) -> Any:
    """A deep copy of ``document`` with the value at an existing ``pointer`` replaced."""
    out = copy.deepcopy(document)
    parts = tokens(pointer)
    node = out
    for token in parts[:-1]:
        node = node[int(token)] if isinstance(node, list) else node[token]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = copy.deepcopy(value)
    else:
        node[last] = copy.deepcopy(value)
    return out
