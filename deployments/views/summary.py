"""What a deployment's spec says, for people: VIO's "Ready to complete" in VIO's order (vCenter,
datacenter, management cluster and datastores, networks, load balancer, compute clusters, Glance,
Neutron, Keystone, syslog, the appliance OVA), the addresses of a deployed cloud, the status badges
every page shows, and the field names of a revision diff. Display only: it reads the spec (never
its secrets: a spec here has none) and names from the stored inventory."""

from urllib.parse import urlsplit, urlunsplit

# One mapping of every status (deployment, run or step) to its badge colour and its word, used by
# the list, the deployment page and, through data-status-display, static/js/deployment.js.
STATUS_DISPLAY = {
    "queued": ("info", "Queued"),
    "pending": ("neutral", "Pending"),
    "running": ("info", "Running"),
    "succeeded": ("ok", "Succeeded"),
    "skipped": ("neutral", "Skipped"),
    "failed": ("err", "Failed"),
    "cancelling": ("warn", "Stopping"),
    "cancelled": ("warn", "Stopped"),
    "tearing_down": ("info", "Tearing down"),
}


def badge(status: str) -> dict:
    cls, label = STATUS_DISPLAY.get(status, ("neutral", str(status).replace("_", " ").capitalize()))
    return {"cls": cls, "label": label, "status": status}


def url_without_credentials(url: str) -> str:
    """The OVA's URL as shown: no user name or password, whatever the spec holds."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a URL that cannot be shown)"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def _ranges(network: dict) -> str:
    ranges = []
    for entry in network.get("ip_ranges") or []:
        start, end = entry.get("start"), entry.get("end")
        ranges.append(str(start) if start == end else f"{start} – {end}")
    return ", ".join(ranges) or "—"


def _network(title: str, network: dict | None) -> dict:
    network = network or {}
    return {"title": title, "rows": [
        ("Port group", network.get("portgroup") or "—"),
        ("IP ranges", _ranges(network)),
        ("Netmask", network.get("netmask") or "—"),
        ("Gateway", network.get("gateway") or "—"),
        ("DNS servers", ", ".join(network.get("dns_servers") or []) or "none"),
    ]}


def _vcenter_name(spec: dict, vcenter) -> str:
    ref = spec.get("vcenter") or {}
    address = f"{ref.get('host', '?')}:{ref.get('port', 443)}"
    return f"{vcenter.name} ({address})" if vcenter is not None else address


def _nsx_name(manager: dict) -> str:
    from inventory.models import NsxManager

    host, port = manager.get("host", "?"), manager.get("port", 443)
    row = NsxManager.objects.filter(host=host, port=port).only("name").first()
    return f"{row.name} ({host}:{port})" if row else f"{host}:{port}"


def _ova(spec: dict) -> str:
    ova = spec.get("appliance_ova") or {}
    if ova.get("url"):
        return url_without_credentials(ova["url"])
    if ova.get("upload"):
        from deployments.models.appliance import ApplianceUpload

        upload = ApplianceUpload.objects.filter(pk=ova["upload"]).only("filename").first()
        return f"uploaded file {upload.filename}" if upload else "an uploaded file that is no longer kept"
    return "—"


def settings_summary(spec: dict, vcenter=None) -> list[dict]:
    """[{"title", "rows": [(label, value)]}] in VIO's order."""
    topology = "HA (two of each control VM)" if spec.get("topology", "ha") == "ha" else "compact (one control VM)"
    datastores = ", ".join(spec.get("management_datastores") or []) or "—"
    sections = [
        {"title": "vCenter", "rows": [
            ("vCenter Server", _vcenter_name(spec, vcenter)),
            ("Datacenter", spec.get("datacenter") or "—"),
            ("Deployment name", spec.get("name") or "—"),
            ("Topology", topology),
        ]},
        {"title": "Management cluster", "rows": [
            ("Cluster", spec.get("management_cluster") or "—"),
            ("Datastores", datastores),
        ]},
        _network("Management network", spec.get("management_network")),
        _network("External network", spec.get("external_network")),
    ]
    balancer = spec.get("load_balancer") or {}
    sections.append({"title": "Load balancer", "rows": [
        ("Public VIP", balancer.get("public_vip") or "—"),
        ("Public host name", balancer.get("public_hostname") or "—"),
    ]})
    compute = []
    for entry in spec.get("compute_clusters") or []:
        if entry.get("datastores"):
            where = ", ".join(entry["datastores"])
        else:
            where = f"datastores whose names match {entry.get('datastore_regex', '')}"
        compute.append((entry.get("cluster", "?"), where))
    sections.append({"title": "Nova compute clusters", "rows": compute or [("—", "none")], "pairs": "cluster"})
    sections.append({"title": "Glance", "rows": [("Image datastore", spec.get("glance_datastore") or "—")]})
    neutron = spec.get("neutron") or {}
    if neutron.get("mode") == "nsx" and neutron.get("nsx"):
        nsx = neutron["nsx"]
        rows = [("Networking", "NSX-v"), ("NSX Manager", _nsx_name(nsx.get("manager") or {})),
                ("Transport zone", nsx.get("transport_zone") or "—"), ("Edge cluster", nsx.get("edge_cluster") or "—"),
                ("Distributed switch (VXLAN)", nsx.get("vds") or "—"),
                ("External network port group", nsx.get("external_portgroup") or "—")]
    else:
        dvs = neutron.get("dvs") or {}
        rows = [("Networking", "vSphere distributed switch (DVS)"), ("Distributed switch", dvs.get("switch") or "—"),
                ("Data network (trunk port group)", dvs.get("trunk_portgroup") or "—")]
    sections.append({"title": "Neutron", "rows": rows})
    keystone = spec.get("keystone") or {}
    rows = [("Admin user", keystone.get("admin_user", "admin")), ("Admin project", keystone.get("admin_project", "admin")),
            ("Identity backend", "Active Directory (LDAP)" if keystone.get("backend") == "ldap" else "SQL (users kept by Keystone)")]
    ldap = keystone.get("ldap") or {}
    if keystone.get("backend") == "ldap":
        rows += [("LDAP server", ldap.get("url") or "—"), ("Bind user", ldap.get("bind_user") or "—"),
                 ("User tree DN", ldap.get("user_tree_dn") or "—"), ("User filter", ldap.get("user_filter") or "none"),
                 ("CA certificate", "given" if ldap.get("ca_certificate") else "none (ldap:// or a public CA)")]
    sections.append({"title": "Keystone", "rows": rows})
    syslog = spec.get("syslog")
    sections.append({"title": "Syslog", "rows": [
        ("Syslog server", f"{syslog.get('host')}:{syslog.get('port', 514)} over {str(syslog.get('protocol', 'udp')).upper()}"
         if syslog else "none: logs stay on the VMs")]})
    sections.append({"title": "Appliance OVA", "rows": [("Imported from", _ova(spec))]})
    return sections


def access_urls(spec: dict) -> dict | None:
    """The cloud's dashboard (Horizon) and API (Keystone) on its public host name."""
    host = (spec.get("load_balancer") or {}).get("public_hostname")
    if not host:
        return None
    return {"dashboard": f"https://{host}/", "keystone": f"https://{host}:5000/v3"}


# --- revision diffs ------------------------------------------------------------------------------

FIELD_LABELS = {
    "name": "Deployment name", "topology": "Topology", "vcenter.host": "vCenter address", "vcenter.port": "vCenter port",
    "datacenter": "Datacenter", "management_cluster": "Management cluster", "management_datastores": "Management datastores",
    "management_network.portgroup": "Management port group", "management_network.ip_ranges": "Management IP ranges",
    "management_network.netmask": "Management netmask", "management_network.gateway": "Management gateway",
    "management_network.dns_servers": "Management DNS servers",
    "external_network.portgroup": "External port group", "external_network.ip_ranges": "External IP ranges",
    "external_network.netmask": "External netmask", "external_network.gateway": "External gateway",
    "external_network.dns_servers": "External DNS servers",
    "load_balancer.public_vip": "Public VIP", "load_balancer.public_hostname": "Public host name",
    "glance_datastore": "Glance datastore", "neutron.mode": "Neutron mode",
    "neutron.dvs.switch": "Distributed switch", "neutron.dvs.trunk_portgroup": "Data trunk port group",
    "neutron.nsx.manager.host": "NSX Manager address", "neutron.nsx.transport_zone": "NSX transport zone",
    "neutron.nsx.edge_cluster": "NSX edge cluster", "neutron.nsx.vds": "NSX distributed switch",
    "neutron.nsx.external_portgroup": "NSX external port group",
    "keystone.admin_user": "Admin user", "keystone.admin_password": "Admin password",
    "keystone.admin_project": "Admin project", "keystone.backend": "Keystone backend",
    "keystone.ldap.url": "LDAP server", "keystone.ldap.bind_user": "LDAP bind user",
    "keystone.ldap.bind_password": "LDAP bind password", "keystone.ldap.user_tree_dn": "LDAP user tree DN",
    "keystone.ldap.user_filter": "LDAP user filter", "keystone.ldap.ca_certificate": "LDAP CA certificate",
    "syslog.host": "Syslog server", "syslog.port": "Syslog port", "syslog.protocol": "Syslog protocol",
    "appliance_ova.url": "Appliance OVA URL", "appliance_ova.upload": "Uploaded appliance OVA",
}


def field_label(path: str) -> str:
    """"compute_clusters[Compute-B].datastores" -> "Compute cluster Compute-B: datastores"."""
    if path in FIELD_LABELS:
        return FIELD_LABELS[path]
    if path.startswith("compute_clusters["):
        cluster, _, rest = path[len("compute_clusters["):].partition("]")
        rest = rest.lstrip(".").replace("datastore_regex", "datastore pattern").replace("_", " ")
        return f"Compute cluster {cluster}" + (f": {rest}" if rest else "")
    return path.replace("_", " ").replace(".", ": ").capitalize()


def _shown(value, path: str) -> str:
    if value is None:
        return "—"
    if path == "appliance_ova.url" and isinstance(value, str) and "://" in value:
        return url_without_credentials(value)
    if value == "present":
        return "present"
    return str(value)


def diff_rows(changes: list[dict]) -> list[dict]:
    """A revision diff (revisions.diff) as people read it: a field's name, what it was, what it is."""
    rows = []
    for change in changes:
        path = change["path"]
        if path.startswith("compute_clusters[") and path.endswith("]"):
            old = "—" if change["old"] is None else "in use"
            new = "removed" if change["new"] is None else "added" if change["old"] is None else "in use"
            rows.append({"path": path, "label": field_label(path), "old": old, "new": new})
            continue
        rows.append({"path": path, "label": field_label(path), "old": _shown(change["old"], path),
                     "new": _shown(change["new"], path)})
    return rows


# --- acknowledged warnings ----------------------------------------------------------------------

WARNING_TEXTS = {  # the advisory checks' codes (deployments.spec.inventory_checks), as people say them
    "stale_inventory": "the vCenter inventory was not recently synced",
    "vsan_glance": "the Glance datastore is vSAN: images must be streamOptimized VMDKs",
    "cpu_overcommitted": "the VMs' vCPUs exceed the management cluster's cores",
    "hostname_does_not_resolve": "the public host name did not resolve yet",
    "hostname_other_address": "the public host name resolved to another address than the public VIP",
}


def acknowledged(keys) -> list[dict]:
    """Warning keys ("hostname_other_address@load_balancer.public_hostname") as sentences; the key
    stays available (the API's `key`) as a title."""
    rows = []
    for key in keys or []:
        code, _, path = str(key).partition("@")
        text = WARNING_TEXTS.get(code, code.replace("_", " "))
        rows.append({"key": key, "text": f"{field_label(path)}: {text}" if path else text.capitalize()})
    return rows
