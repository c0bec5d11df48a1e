"""The appliance as a vCenter extension (ExtensionManager): what the vSphere Client lists among its
solutions. Find, register, update and unregister one extension by its key."""

from dataclasses import dataclass

from pyVmomi import vim


@dataclass(frozen=True)
class Registration:
    """What the appliance registers: compared field by field with what vCenter has."""

    key: str
    label: str
    summary: str
    version: str
    company: str
    url: str
    thumbprint: str  # SHA-1, AA:BB:… (vCenter's form); "" when the appliance is reached over plain HTTP

    def as_dict(self) -> dict:
        return {"key": self.key, "version": self.version, "company": self.company, "url": self.url,
                "thumbprint": self.thumbprint}


def _extension(wanted: Registration, heartbeat):
    server = vim.Extension.ServerInfo(
        url=wanted.url, company=wanted.company, type="HTTPS" if wanted.url.startswith("https:") else "HTTP",
        description=vim.Description(label=wanted.label, summary=wanted.summary), adminEmail=["root@localhost"],
    )
    if wanted.thumbprint:
        server.serverThumbprint = wanted.thumbprint
    return vim.Extension(
        key=wanted.key, version=wanted.version, company=wanted.company, lastHeartbeatTime=heartbeat,
        description=vim.Description(label=wanted.label, summary=wanted.summary), server=[server],
        shownInSolutionManager=True,
    )


def manager_of(si):
    return si.RetrieveContent().extensionManager


def find(si, key: str, manager=None) -> dict | None:
    """What vCenter has registered under this key, or None."""
    found = (manager or manager_of(si)).FindExtension(key)
    if found is None:
        return None
    server = found.server[0] if found.server else None
    return {"key": found.key, "version": found.version or "", "company": found.company or "",
            "url": server.url if server else "", "thumbprint": (server.serverThumbprint or "") if server else "",
            "label": found.description.label if found.description else ""}


def same(registered: dict | None, wanted: Registration) -> bool:
    return registered is not None and all(registered.get(name) == value for name, value in wanted.as_dict().items())


def register_or_update(si, wanted: Registration, heartbeat) -> str:
    """Make vCenter's registration what `wanted` says: "registered", "updated" or "unchanged"."""
    manager = manager_of(si)
    registered = find(si, wanted.key, manager)
    if same(registered, wanted):
        return "unchanged"
    if registered is None:
        manager.RegisterExtension(_extension(wanted, heartbeat))
        return "registered"
    manager.UpdateExtension(_extension(wanted, heartbeat))
    return "updated"


def unregister(si, key: str) -> bool:
    """Remove the registration; False when there was none."""
    manager = manager_of(si)
    if manager.FindExtension(key) is None:
        return False
    try:
        manager.UnregisterExtension(key)
    except vim.fault.NotFound:
        return False
    return True
