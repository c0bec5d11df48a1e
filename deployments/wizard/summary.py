"""What the last step shows: VIO's "Ready to complete" — every choice, in the order of VIO's screens,
each section with its step — and, editing a deployment, the reviewed difference as the API gives it
(services.changes.Proposal.as_dict()). Values are plain text (the template escapes them); no secret is
ever read here: passwords show as set or kept, the OVA's URL without its credentials."""

from inventory.clients.download import redact, size_text


def _ranges(ranges) -> str:
    return ", ".join(r["start"] if r["start"] == r["end"] else f"{r['start']}–{r['end']}" for r in ranges or []) or "—"


def _portgroup(state, name: str | None) -> str:
    if not name:
        return "—"
    from deployments.wizard.fields import portgroup_label

    network = state.inventory().networks.get(name)
    return portgroup_label(network) if network is not None else name


def _network(state, network: dict, extra: list | None = None) -> list[tuple[str, str]]:
    rows = [("Port group", _portgroup(state, network.get("portgroup"))),
            ("IP ranges", _ranges(network.get("ip_ranges"))),
            ("Netmask", network.get("netmask") or "—"),
            ("Gateway", network.get("gateway") or "—"),
            ("DNS servers", ", ".join(network.get("dns_servers") or []) or "none")]
    return rows + (extra or [])


def _start(state, spec) -> list:
    rows = [("Name", spec.get("name") or "—")]
    if state.editing and state.deployment is not None:
        rows.append(("Changing", f"revision {state.deployment.current_revision} of {state.deployment.name}"))
        return rows
    source = state.extra.get("template_source", "new") or "new"
    if source.startswith("saved:"):
        from deployments.models import DeploymentTemplate

        template = DeploymentTemplate.objects.filter(pk=source.split(":", 1)[1]).first()
        rows.append(("Started from", f"the saved template {template.name}" if template else "a saved template"))
    elif source.startswith("file:"):
        rows.append(("Started from", f"the template file {state.extra.get('template_file_name') or ''}".strip()))
    else:
        rows.append(("Started from", "a new deployment"))
    return rows


def _vcenter(state, spec) -> list:
    ref = spec.get("vcenter") or {}
    vcenter = state.vcenter
    shown = f"{vcenter.name} ({vcenter.host}:{vcenter.port})" if vcenter else (
        f"{ref.get('host')}:{ref.get('port', 443)}" if ref else "—")
    return [("vCenter", shown)]


def _placement(spec, plan) -> list:
    from deployments.wizard.forms.placement import TOPOLOGIES

    topology = dict(TOPOLOGIES).get(spec.get("topology"), spec.get("topology") or "—")
    if plan:
        totals = plan["totals"]
        topology += f" ({totals['vcpu']} vCPU, {totals['memory_gb']} GB RAM, {totals['disk_gb']} GB disk)"
    return [("Datacenter", spec.get("datacenter") or "—"), ("Topology", topology),
            ("Management cluster", spec.get("management_cluster") or "—"),
            ("Datastores", ", ".join(spec.get("management_datastores") or []) or "—")]


def _compute(spec, plan) -> list:
    vms = {vm.get("cluster"): vm["name"] for vm in (plan or {}).get("vms", []) if vm.get("cluster")}
    rows = []
    for entry in spec.get("compute_clusters") or []:
        where = (f"datastores {', '.join(entry['datastores'])}" if entry.get("datastores")
                 else f"datastores matching {entry.get('datastore_regex')}")
        vm = f" · nova-compute VM {vms[entry['cluster']]}" if entry.get("cluster") in vms else ""
        rows.append((entry.get("cluster") or "—", where + vm))
    return rows or [("Compute clusters", "—")]


def _neutron(spec) -> list:
    neutron = spec.get("neutron") or {}
    if neutron.get("mode") == "nsx":
        from inventory.models import NsxManager

        nsx = neutron.get("nsx") or {}
        ref = nsx.get("manager") or {}
        manager = NsxManager.objects.filter(host=ref.get("host"), port=ref.get("port", 443)).first() if ref else None
        shown = f"{manager.name} ({manager.host}:{manager.port})" if manager else (f"{ref.get('host')}:{ref.get('port', 443)}" if ref else "—")
        return [("Networking", "NSX for vSphere"), ("NSX Manager", shown),
                ("Transport zone", nsx.get("transport_zone") or "—"), ("Edge cluster", nsx.get("edge_cluster") or "—"),
                ("VXLAN switch", nsx.get("vds") or "—"), ("External port group", nsx.get("external_portgroup") or "—")]
    dvs = neutron.get("dvs") or {}
    return [("Networking", "DVS (VLANs)" if neutron.get("mode") == "dvs" else "—"),
            ("Distributed switch", dvs.get("switch") or "—"), ("Trunk port group (data network)", dvs.get("trunk_portgroup") or "—")]


def _keystone(state, spec) -> list:
    keystone = spec.get("keystone") or {}
    typed = state.extra.get("secret_ids") or {}

    def password(path: str) -> str:
        if path in typed:
            return "set (not shown)" if not state.editing else "changed (not shown)"
        return "kept (not shown)" if state.has_secret(path) else "not given yet"

    rows = [("Admin user", keystone.get("admin_user") or "admin"), ("Admin project", keystone.get("admin_project") or "admin"),
            ("Admin password", password("keystone.admin_password"))]
    if keystone.get("backend") == "ldap":
        ldap = keystone.get("ldap") or {}
        rows += [("Identity backend", "Active Directory / LDAP"), ("LDAP URL", ldap.get("url") or "—"),
                 ("Bind user", ldap.get("bind_user") or "—"), ("Bind password", password("keystone.ldap.bind_password")),
                 ("User tree DN", ldap.get("user_tree_dn") or "—")]
        if ldap.get("user_filter"):
            rows.append(("User filter", ldap["user_filter"]))
        rows.append(("CA certificate", "given" if ldap.get("ca_certificate") else "none"))
    else:
        rows.append(("Identity backend", "SQL database"))
    return rows


def _syslog(spec) -> list:
    syslog = spec.get("syslog")
    if not syslog:
        return [("Syslog server", "none: the VMs send no logs")]
    return [("Syslog server", f"{syslog.get('host')}:{syslog.get('port', 514)} over {str(syslog.get('protocol', 'udp')).upper()}")]


def _appliance(state, spec) -> list:
    ova = spec.get("appliance_ova") or {}
    if ova.get("upload"):
        from deployments.models import ApplianceUpload

        upload = ApplianceUpload.objects.filter(pk=ova["upload"]).first()
        if upload is None:
            return [("Uploaded OVA", "not found: upload it again")]
        return [("Uploaded OVA", upload.filename), ("Size", size_text(upload.size)), ("SHA-256", upload.sha256)]
    if not ova.get("url"):
        return [("OVA", "—")]
    rows = [("OVA URL", redact(ova["url"]))]
    facts = state.ova_facts
    if facts and facts.get("url") == redact(ova["url"]):
        found = []
        if facts.get("size") is not None:
            found.append(size_text(facts["size"]))
        if facts.get("content_type"):
            found.append(facts["content_type"])
        if facts.get("tar"):
            found.append("a tar archive")
        problems = facts.get("issues") or []
        if problems and all(i["severity"] != "blocking" for i in problems):
            rows.append(("Checked", "could not be reached now: see the warning below"))
        elif problems:
            rows.append(("Checked", "refused: see the problem above"))
        else:
            rows.append(("Checked", ", ".join(found) or "it answers"))
    return rows


def sections(state, titles: dict, plan: dict | None) -> list[dict]:
    """The choices in VIO's order: [{"step", "title", "rows": [(label, value)]}]; "step" is the step to
    change them on (None when that step does not apply)."""
    spec = state.public_spec()
    internal = [("Internal VIP", plan["internal_vip"])] if plan and plan.get("internal_vip") else []
    public = [("Public VIP", (spec.get("load_balancer") or {}).get("public_vip") or "—"),
              ("Public host name", (spec.get("load_balancer") or {}).get("public_hostname") or "—")]
    found = [
        ("start", "Deployment", _start(state, spec)),
        ("vcenter", "vCenter", _vcenter(state, spec)),
        ("datacenter", "Management cluster", _placement(spec, plan)),
        ("management_network", "Management network", _network(state, spec.get("management_network") or {}, internal)),
        ("external_network", "External network", _network(state, spec.get("external_network") or {})),
        ("load_balancer", "Load balancer", public),
        ("compute", "Compute clusters (Nova)", _compute(spec, plan)),
        ("glance", "Glance datastore", [("Datastore", spec.get("glance_datastore") or "—")]),
        ("neutron", "Neutron networking", _neutron(spec)),
        ("keystone", "OpenStack identity (Keystone)", _keystone(state, spec)),
        ("syslog", "Syslog", _syslog(spec)),
        ("appliance", "Appliance OVA", _appliance(state, spec)),
    ]
    neutron_step = (spec.get("neutron") or {}).get("mode")
    result = []
    for step, title, rows in found:
        target = step
        if step == "neutron" and neutron_step in titles:
            target = neutron_step  # the switch or the NSX objects are on the mode's own step
        result.append({"step": target if target in titles else None, "mode_step": "neutron" if step == "neutron" else None,
                       "title": title, "rows": rows, "key": step})
    return result


def plan_facts(plan) -> dict:
    """A plan (deployments.plan.Plan) in the shape services.launch.preview gives one."""
    from dataclasses import asdict

    return {"vms": [asdict(vm) for vm in plan.vms], "internal_vip": plan.internal_vip, "public_vip": plan.public_vip,
            "totals": {"vcpu": plan.total_vcpu, "memory_gb": plan.total_memory_gb, "disk_gb": plan.total_disk_gb}}


def change(proposal) -> dict:
    """The reviewed difference as the API gives it (POST change-preview), with each field's step."""
    from deployments.wizard import paths

    data = proposal.as_dict()
    for item in data["changes"]:
        item["step"] = paths.step_of(item["path"].split("[", 1)[0])
    for item in data["files"]:
        item["lines"] = [{"text": line, "kind": _kind(line)} for line in item["diff"].splitlines()]
    return data


def _kind(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "head"
    if line.startswith("@@"):
        return "hunk"
    return {"+": "add", "-": "del"}.get(line[:1], "")
