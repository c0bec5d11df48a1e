"""RetrievePropertiesEx with cheap parsing.

pyvmomi turns every element of a response into a Python object through Python-level SAX handlers;
for a whole-inventory read (tens of thousands of host/datastore/network references) that costs
seconds. Here the request is still built and sent by pyvmomi's own stub (same connection pool,
session cookie and pinned TLS context), but the response is streamed through lxml and each
object is turned into plain values, then dropped: fast, and flat in memory.
"""

import gzip
import http.client
import zlib
from io import BytesIO
from lxml import etree
from pyVmomi import SoapAdapter, vim, vmodl

XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
VIM = "{urn:vim25}"
PC = vmodl.query.PropertyCollector


class Node:
    """A complex value: attribute access returns child text (or a Node for nested elements);
    `all(name)` returns every repeated child."""

    __slots__ = ("_element",)

    def __init__(self, element):
        self._element = element

    @property
    def xsi_type(self) -> str | None:
        return self._element.get(XSI_TYPE)

    def __getattr__(self, name):
        child = self._element.find(VIM + name)
        return None if child is None else _value(child)

    def all(self, name) -> list:
        return [_value(child) for child in self._element.findall(VIM + name)]


def _value(element):
    kind = element.get(XSI_TYPE, "")
    if len(element) == 0:
        text = element.text or ""
        if kind in ("xsd:int", "xsd:long", "xsd:short", "xsd:byte"):
            return int(text)
        if kind == "xsd:boolean":
            return text == "true"
        if kind == "ManagedObjectReference" or element.get("type") is not None and kind == "":
            return text  # a moid
        if kind.startswith("ArrayOf"):
            return []
        return text
    if kind == "ArrayOfManagedObjectReference":
        return [child.text for child in element]
    if kind in ("ArrayOfString", "ArrayOfInt", "ArrayOfLong"):
        convert = int if kind != "ArrayOfString" else str
        return [convert(child.text) for child in element]
    if kind.startswith("ArrayOf"):
        return [Node(child) for child in element]
    return Node(element)


def _invoke_raw(collector, method: str, args: list) -> bytes:
    """Send a PropertyCollector call through pyvmomi's stub and return the raw 200 response."""
    session_stub = collector._stub
    stub = getattr(session_stub, "soapStub", session_stub)
    info = collector._GetMethodInfo(method)
    body = stub.SerializeRequest(collector, info, args)
    headers = {
        "Cookie": stub.cookie,
        "SOAPAction": stub.versionId,
        "Content-Type": "text/xml; charset=UTF-8",
        "Accept-Encoding": "gzip, deflate",
    }
    conn = stub.GetConnection()
    try:
        conn.request("POST", stub.path, body, headers)
        response = conn.getresponse()
        payload = response.read()
    except (OSError, http.client.HTTPException):
        conn.close()
        stub.DropConnections()
        raise
    stub.ReturnConnection(conn)
    encoding = (response.getheader("Content-Encoding") or "identity").lower()
    if encoding == "gzip":
        payload = gzip.decompress(payload)
    elif encoding == "deflate":
        payload = zlib.decompress(payload)
    if response.status == 500:
        # A SOAP fault: let pyvmomi turn it into its exception class (small, so cheap).
        fault = SoapAdapter.SoapResponseDeserializer(stub).Deserialize(BytesIO(payload), info.result)
        raise fault
    if response.status != 200:
        raise http.client.HTTPException(f"{response.status} {response.reason}")
    return payload


def _parse(payload: bytes, on_object) -> str | None:
    """Stream the response; call on_object(type, moid, {property: value}) for each object.
    Returns the continuation token, if any.

    lxml's iterparse hands over only the <objects> and <token> elements (filtered in C), and each
    object is freed once read, so memory stays flat whatever the inventory's size. Entities are
    not resolved and nothing is fetched from the network."""
    token = None
    events = etree.iterparse(BytesIO(payload), events=("end",), tag=(VIM + "objects", VIM + "token"),
                             resolve_entities=False, no_network=True, huge_tree=False)
    for _, element in events:
        if element.tag == VIM + "token":
            token = element.text
            continue
        obj = element.find(VIM + "obj")
        props = {}
        for prop in element.iterfind(VIM + "propSet"):
            val = prop.find(VIM + "val")
            props[prop.findtext(VIM + "name")] = None if val is None else _value(val)
        on_object(obj.get("type"), obj.text, props)
        element.clear()
        while element.getprevious() is not None:
            del element.getparent()[0]
    return token


def retrieve_properties(si, spec_set: list, page_size: int = 5000, collector=None) -> tuple[list, int]:
    """[(type, moid, {property: value})] for the filter specs, and the pages (round trips) it took."""
    collector = collector or si.RetrieveContent().propertyCollector
    rows: list = []

    def on_object(kind, moid, props):
        rows.append((kind, moid, props))

    token = _parse(_invoke_raw(collector, "RetrievePropertiesEx", [spec_set, PC.RetrieveOptions(maxObjects=page_size)]), on_object)
    round_trips = 1
    while token:
        token = _parse(_invoke_raw(collector, "ContinueRetrievePropertiesEx", [token]), on_object)
        round_trips += 1
    return rows, round_trips


def container_filter(view, properties: dict) -> "PC.FilterSpec":
    return PC.FilterSpec(
        objectSet=[PC.ObjectSpec(obj=view, skip=True, selectSet=[
            PC.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)])],
        propSet=[PC.PropertySpec(type=kind, pathSet=paths, all=False) for kind, paths in properties.items()],
    )
