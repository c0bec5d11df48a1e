"""Documents as plain Python values, rendered to NSX's XML or to its JSON.

A document is (root tag, body). In a body, a dict is an element with children, a list is a
repeated element (XML) or an array (JSON), and scalars are text. Booleans render as true/false,
so the JSON keeps the types Jackson gives them on a real NSX Manager.

NSX-v names its XML after the JAXB annotations of its Java DTOs and its JSON after their Java
fields, so the two differ where a list is involved: XML repeats a singular tag (`<vnics><vnic>…`),
JSON has the plural field (`"vnics": {"vnics": […]}`), and the JSON has no root element. Two
markers say so in a body:

- `Json(name, value)`: the value is `name` in JSON and keeps its dict key as the XML tag
  (`{"vnic": Json("vnics", [...])}` -> `<vnic>…</vnic><vnic>…</vnic>` / `"vnics": [...]`);
- `Wrapped(item, values)`: an XML wrapper element around repeated `item`s, a flat JSON array
  (`{"edgeVmStatus": Wrapped("edgeVmStatus", [...])}` -> `<edgeVmStatus><edgeVmStatus>…` /
  `"edgeVmStatus": [...]`).
"""

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass

XML_TYPE = "application/xml"
JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Json:
    """A value whose JSON name (the Java field) differs from its XML tag."""

    name: str
    value: object


@dataclass(frozen=True)
class Wrapped:
    """A list with an XML wrapper element (the dict key) around repeated `item` elements."""

    item: str
    values: list


@dataclass
class Document:
    root: str
    body: dict
    # True when JSON keeps the root as its single key ({"authToken": {...}}), as NSX does for a few DTOs.
    json_keeps_root: bool = False
    # True for a resource that answers JSON whatever the Accept header (global/info before NSX 6.2.3).
    json_only: bool = False


class NsxFault(Exception):
    """An NSX API error: HTTP status plus the <error> body of the RAML appendix."""

    def __init__(self, status: int, error_code: int, details: str, module: str = "core-services"):
        super().__init__(details)
        self.status, self.error_code, self.details, self.module = status, error_code, details, module

    def document(self) -> Document:
        return Document("error", {"details": self.details, "errorCode": self.error_code, "moduleName": self.module})


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _append(parent: ET.Element, tag: str, value) -> None:
    if isinstance(value, Json):
        _append(parent, tag, value.value)
        return
    if isinstance(value, list):
        for item in value:
            _append(parent, tag, item)
        return
    child = ET.SubElement(parent, tag)
    if isinstance(value, Wrapped):
        for item in value.values:
            _append(child, value.item, item)
    elif isinstance(value, dict):
        _fill(child, value)
    else:
        child.text = _text(value)


def _fill(element: ET.Element, body: dict) -> None:
    for tag, value in body.items():
        _append(element, tag, value)


def to_xml(document: Document) -> bytes:
    root = ET.Element(document.root)
    _fill(root, document.body)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def _jsonable(value):
    if isinstance(value, Json):
        return _jsonable(value.value)
    if isinstance(value, Wrapped):
        return [_jsonable(item) for item in value.values]
    if isinstance(value, dict):
        return {(item.name if isinstance(item, Json) else key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return "" if value is None else value


def json_body(document: Document):
    """The document as NSX's JSON would carry it (a Python value, before encoding)."""
    body = _jsonable(document.body)
    return {document.root: body} if document.json_keeps_root else body


def to_json(document: Document) -> bytes:
    return json.dumps(json_body(document)).encode()


def wants_json(accept: str | None) -> bool:
    """NSX answers JSON only when asked for it; XML is the default (and what the RAML documents)."""
    return bool(accept) and JSON_TYPE in accept.lower()
