"""Fault and delay rules set at run time through the control endpoint (/emulator/faults).

A rule answers the next matching request(s) with an NSX error (status, error_code, message,
module), after a delay, or both. `body` says what the answer carries:
- `nsx` (default): NSX's <error> document (XML or JSON by Accept);
- `empty`: no body (a 403 the way NSX-v refuses credentials, or an appliance API refuses a user);
- `dtd`: an XML document with a DTD and entities, which no NSX Manager sends, for testing that
  clients refuse it; its root element is `root` (default `error`), its status 200 unless given.
"""

import threading
from dataclasses import asdict, dataclass


class RuleError(ValueError):
    pass


@dataclass
class FaultRule:
    path: str  # exact API path, or a prefix ending in "*"
    method: str | None = None  # None: any method
    status: int | None = None  # None: no error, only the delay
    error_code: int = 0
    message: str = ""
    module: str = "core-services"
    delay_ms: int = 0
    count: int = 1  # requests left; -1: every request
    body: str = "nsx"  # nsx | empty | dtd
    root: str = "error"  # root element of a dtd body

    def dtd_document(self) -> bytes:
        # A small entity expansion (the billion-laughs pattern, three levels) and an external
        # entity naming a local file: both must be refused, never expanded or fetched.
        return (
            f'<?xml version="1.0"?>\n<!DOCTYPE {self.root} [\n'
            '  <!ENTITY a "injected">\n  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">\n'
            '  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">\n  <!ENTITY file SYSTEM "file:///etc/hostname">\n]>\n'
            f"<{self.root}><details>&c;</details><errorCode>1</errorCode><objectId>&file;</objectId></{self.root}>"
        ).encode()

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method != method:
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path.rstrip("/")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_query(cls, query: dict[str, str]) -> "FaultRule":
        """Build a rule from ?path=…&status=…&error_code=…&message=…&module=…&delay=…&count=…&method=…"""
        path = query.get("path", "")
        if not path.startswith("/api/"):
            raise RuleError("path is required and must start with /api/ (end it with * for a prefix).")
        try:
            status = int(query["status"]) if "status" in query else None
            delay_ms = int(query.get("delay", 0))
            count = int(query.get("count", 1))
            error_code = int(query.get("error_code", 0))
        except ValueError as exc:
            raise RuleError(f"status, delay, count and error_code are integers ({exc}).") from None
        body = query.get("body", "nsx")
        if body not in ("nsx", "empty", "dtd"):
            raise RuleError("body is nsx (NSX's error document), empty or dtd.")
        root = query.get("root", "error")
        if not root.isidentifier():
            raise RuleError("root is an element name.")
        if body == "dtd" and status in (None, 200):
            status = 200
        elif status is not None and not 400 <= status <= 599:
            raise RuleError("status must be an HTTP error status (400-599).")
        if status is None and delay_ms <= 0:
            raise RuleError("give a status, a delay (ms), or both.")
        if body == "empty" and status is None:
            raise RuleError("an empty body needs a status.")
        if delay_ms < 0 or count == 0 or count < -1:
            raise RuleError("delay must be >= 0 and count >= 1 (or -1 for every request).")
        return cls(
            path=path,
            method=query.get("method", "").upper() or None,
            status=status,
            error_code=error_code,
            message=query.get("message", "") or f"Injected fault (HTTP {status}).",
            module=query.get("module", "core-services"),
            delay_ms=delay_ms,
            count=count,
            body=body,
            root=root,
        )


class FaultRules:
    def __init__(self):
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def snapshot(self) -> list[dict]:
        with self._lock:
            return [rule.as_dict() for rule in self._rules]

    def take(self, method: str, path: str) -> FaultRule | None:
        """The first rule for this request, used up by one (rules with count -1 stay)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    if rule.count > 0:
                        rule.count -= 1
                        if rule.count == 0:
                            self._rules.remove(rule)
                    return rule
        return None
