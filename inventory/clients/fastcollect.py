"""RetrievePropertiesEx with cheap parsing.

pyvmomi turns every element of a response into a Python object through Python-level SAX handlers;
for a whole-inventory read (tens of thousands of host/datastore/network references) that costs
seconds. Here the request is still built and sent by pyvmomi's own stub (same connection pool,
session cookie and pinned TLS context), but the response is streamed through lxml and each
object is turned into plain values, then dropped: fast, and flat in memory.
"""

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


class _Body:
    """The response body as a file for lxml: read in chunks (never whole), gunzipped or inflated."""

    def __init__(self, response):
        self.response = response
        encoding = (response.getheader("Content-Encoding") or "identity").lower()
        self.inflate = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS) \
            if encoding in ("gzip", "deflate") else None
        self.pending = b""

    def read(self, size: int = 65536) -> bytes:
        if self.inflate is None:
            return self.response.read(size)
        while not self.pending:
            chunk = self.response.read(65536)
            if not chunk:
                return self.inflate.flush()
            self.pending = self.inflate.decompress(chunk)
        data, self.pending = self.pending[:size], self.pending[size:]
        return data


def _invoke_streamed(collector, method: str, args: list, parse):
    """Send a PropertyCollector call through pyvmomi's stub and hand the streamed 200 response to
    parse(file); returns what parse returns. The whole answer is never held in memory: at 40,000 VMs
    it is hundreds of megabytes of XML."""
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
        if response.status == 500:
            # A SOAP fault: let pyvmomi turn it into its exception class (small, so cheap).
            payload = _read_all(_Body(response))
            fault = SoapAdapter.SoapResponseDeserializer(stub).Deserialize(BytesIO(payload), info.result)
            stub.ReturnConnection(conn)
            raise fault
        if response.status != 200:
            response.read()
            stub.ReturnConnection(conn)
            raise http.client.HTTPException(f"{response.status} {response.reason}")
        result = parse(_Body(response))
        response.read()  # whatever follows the envelope
    except (OSError, http.client.HTTPException, etree.XMLSyntaxError):
        conn.close()
        stub.DropConnections()
        raise
    stub.ReturnConnection(conn)
    return result


def _invoke_raw(collector, method: str, args: list) -> bytes:
    """Send a PropertyCollector call through pyvmomi's stub and return the raw 200 response."""
    return _invoke_streamed(collector, method, args, _read_all)


def _read_all(body) -> bytes:
    chunks = []
    while True:
        chunk = body.read(1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _free(element) -> None:
    element.clear()
    while element.getprevious() is not None:
        del element.getparent()[0]


def _parse(source, on_object) -> str | None:
    """Stream the response; call on_object(type, moid, {property: value}) for each object.
    Returns the continuation token, if any.

    lxml's iterparse hands over only the <objects> and <token> elements (filtered in C), and each
    object is freed once read, so memory stays flat whatever the inventory's size. Entities are
    not resolved and nothing is fetched from the network."""
    token = None
    events = etree.iterparse(source if hasattr(source, "read") else BytesIO(source), events=("end",),
                             tag=(VIM + "objects", VIM + "token"), resolve_entities=False, no_network=True,
                             huge_tree=False)
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
        _free(element)
    return token


def retrieve_properties(si, spec_set: list, page_size: int = 5000, collector=None, on_object=None) -> tuple[list, int]:
    """[(type, moid, {property: value})] for the filter specs, and the pages (round trips) it took.
    With on_object(type, moid, props), each object goes there instead (and the list stays empty)."""
    collector = collector or si.RetrieveContent().propertyCollector
    rows: list = []
    handle = on_object or (lambda kind, moid, props: rows.append((kind, moid, props)))
    token = _invoke_streamed(collector, "RetrievePropertiesEx", [spec_set, PC.RetrieveOptions(maxObjects=page_size)],
                             lambda body: _parse(body, handle))
    round_trips = 1
    while token:
        token = _invoke_streamed(collector, "ContinueRetrievePropertiesEx", [token], lambda body: _parse(body, handle))
        round_trips += 1
    return rows, round_trips


# --- WaitForUpdatesEx ----------------------------------------------------------------------------


def wait_for_updates(collector, version: str, max_wait_seconds: int, on_update, max_objects: int = 5000) -> tuple[str, bool] | None:
    """One WaitForUpdatesEx on `collector`, its answer streamed: on_update(kind, type, moid, changes)
    for each object update (kind: enter, modify, leave; changes: [(path, op, value)]). Returns
    (the new version, truncated) or None when the wait ended with nothing to report. vCenter sends
    at most max_objects updates at once and says "truncated": call again at once for the rest."""

    def parse(body):
        found = {"version": None, "truncated": False}
        events = etree.iterparse(body, events=("end",), tag=(VIM + "objectSet", VIM + "version", VIM + "truncated"),
                                 resolve_entities=False, no_network=True, huge_tree=False)
        for _, element in events:
            if element.tag == VIM + "version":
                found["version"] = element.text or ""
                continue
            if element.tag == VIM + "truncated":
                found["truncated"] = element.text == "true"
                continue
            obj = element.find(VIM + "obj")
            changes = []
            for change in element.iterfind(VIM + "changeSet"):
                val = change.find(VIM + "val")
                changes.append((change.findtext(VIM + "name"), change.findtext(VIM + "op"),
                                None if val is None else _value(val)))
            on_update(element.findtext(VIM + "kind"), obj.get("type"), obj.text, changes)
            _free(element)
        return found

    options = PC.WaitOptions(maxWaitSeconds=max_wait_seconds, maxObjectUpdates=max_objects)
    found = _invoke_streamed(collector, "WaitForUpdatesEx", [version, options], parse)
    if found["version"] is None:
        return None
    return found["version"], found["truncated"]


def container_filter(view, properties: dict) -> "PC.FilterSpec":
    return PC.FilterSpec(
        objectSet=[PC.ObjectSpec(obj=view, skip=True, selectSet=[
            PC.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)])],
        propSet=[PC.PropertySpec(type=kind, pathSet=paths, all=False) for kind, paths in properties.items()],
    )
