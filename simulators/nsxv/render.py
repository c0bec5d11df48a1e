"""Documents as plain Python values, rendered to NSX's XML or to its JSON.

A document is (root tag, body). In a body, a dict is an element with children, a list is a
repeated element (XML) or an array (JSON), and scalars are text. Booleans render as true/false,
so the JSON keeps the types Jackson gives them on a real NSX Manager.
"""

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

XML_TYPE = "application/xml"
JSON_TYPE = "application/json"


@dataclass
class Document:
    root: str
    body: dict
    # JSON names that differ from XML ones, e.g. {"edgeSummary": "data"} for the edge list.
    json_names: dict = field(default_factory=dict)
    # True when JSON keeps the root as its single key ({"authToken": {...}}), as NSX does for a few DTOs.
    json_keeps_root: bool = False


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
    if isinstance(value, list):
        for item in value:
            _append(parent, tag, item)
        return
    child = ET.SubElement(parent, tag)
    if isinstance(value, dict):
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


def _jsonable(value, names: dict):
    if isinstance(value, dict):
        return {names.get(key, key): _jsonable(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item, names) for item in value]
    return "" if value is None else value


def to_json(document: Document) -> bytes:
    body = _jsonable(document.body, document.json_names)
    if document.json_keeps_root:
        body = {document.root: body}
    return json.dumps(body).encode()


def wants_json(accept: str | None) -> bool:
    """NSX answers JSON only when asked for it; XML is the default (and what the RAML documents)."""
    return bool(accept) and JSON_TYPE in accept.lower()
