"""The topology picture of a deployment, laid out for an SVG the deployment page draws
(templates/deployments/_topology.html): the management cluster's hosts as columns with the
deployment's VMs on them (role, name, power state, address), a band of the datastores and one of the
port groups they use, and a band of the compute clusters with their nova-compute VM. Each
anti-affinity group has its own colour (a stripe on its VMs, and a legend); each finding of health is
marked on the objects it names (an outline in its severity's colour, its message in the tooltip).

layout() is a pure function of the plan, the spec, the stored inventory rows and the findings (the
tests build them by hand); for_deployment() reads those rows for one deployment, a few indexed
queries whatever the size of the vCenter."""

from dataclasses import dataclass, field

from deployments.plan import Plan

COL_W, GAP, MARGIN = 210, 14, 14  # a column (a host) and the space around it, in SVG units (px)
HEAD_H = 44  # a host's name and state at the top of its column
BOX_H, BOX_GAP = 60, 8  # a VM
BAND_H = 56  # a datastore, port group or compute cluster
TITLE_H = 24  # a band's title
LINE_H = 15
CHAR_W = 6.4  # the mean width of a character at 12 px: longer texts are cut, whole in the tooltip

# Okabe-Ito colours, told apart by people with colour-blind sight; red stays for errors.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#8c6d31", "#6a3d9a", "#7f7f7f")
STROKE = {"error": "#b3261e", "warning": "#a15c00", "": "#b9c3ce"}
FILL_OFF = "#eceff3"  # a VM that is not running, a host that cannot be used
ERROR, WARNING = "error", "warning"

POWER = {"poweredOn": "Powered on", "poweredOff": "Powered off", "suspended": "Suspended"}
RULE_KINDS = ("rule_missing", "rule_disabled", "anti_affinity_broken")  # their id: kind:rule[:…]


@dataclass
class Text:
    x: int
    y: int
    text: str
    bold: bool = False


@dataclass
class Box:
    """A VM, a datastore, a port group or a compute cluster."""

    kind: str  # vm, datastore, network, cluster
    name: str
    x: int = 0
    y: int = 0
    w: int = COL_W - 2 * BOX_GAP
    h: int = BOX_H
    lines: list = field(default_factory=list)  # under the name
    fill: str = "#ffffff"
    colour: str = ""  # its anti-affinity group's colour, "" for none
    group: str = ""
    missing: bool = False  # planned, not in vCenter: drawn dashed
    mark: str = ""  # the worst severity of the findings about it, "" when none
    problems: list = field(default_factory=list)  # their messages
    finding_ids: list = field(default_factory=list)

    @property
    def stroke(self) -> str:
        return STROKE[self.mark]

    @property
    def stroke_width(self) -> int:
        return 3 if self.mark else 1

    @property
    def dash(self) -> str:
        return "6 4" if self.missing or self.mark == WARNING else ""

    @property
    def title(self) -> str:
        return "\n".join([self.name, *self.lines, *self.problems])

    @property
    def texts(self) -> list[Text]:
        left = self.x + (14 if self.colour else 8)
        chars = int((self.x + self.w - left - (22 if self.mark else 6)) / CHAR_W)  # a mark's "!" takes the corner
        rows = [Text(left, self.y + 18, _cut(self.name, chars - 2), bold=True)]
        rows += [Text(left, self.y + 18 + LINE_H * (i + 1), _cut(line, chars)) for i, line in enumerate(self.lines)]
        return rows

    @property
    def badge(self) -> dict | None:
        """Where the "!" of a marked box goes (its top right corner)."""
        return {"cx": self.x + self.w - 10, "cy": self.y + 10} if self.mark else None


@dataclass
class Column:
    """A host, and the deployment's VMs on it; or "Not in vCenter" for the planned VMs that are not."""

    name: str
    moid: str = ""
    state: str = ""
    x: int = 0
    y: int = 0
    w: int = COL_W
    h: int = 0
    usable: bool = True
    boxes: list = field(default_factory=list)
    mark: str = ""
    problems: list = field(default_factory=list)
    finding_ids: list = field(default_factory=list)

    @property
    def fill(self) -> str:
        return "#f6f8fa" if self.usable else FILL_OFF

    @property
    def stroke(self) -> str:
        return STROKE[self.mark]

    @property
    def stroke_width(self) -> int:
        return 3 if self.mark else 1

    @property
    def title(self) -> str:
        return "\n".join([self.name, self.state, *self.problems])

    @property
    def texts(self) -> list[Text]:
        chars = int((self.w - 14) / CHAR_W)
        return [Text(self.x + 8, self.y + 18, _cut(self.name, chars - 2), bold=True),
                Text(self.x + 8, self.y + 34, _cut(self.state, chars))]


@dataclass
class Band:
    title: str
    y: int
    boxes: list


@dataclass
class Topology:
    width: int
    height: int
    heading: Text
    columns: list
    bands: list
    legend: list  # [{"name", "colour", "members", "problems", "mark"}]

    @property
    def boxes(self) -> list[Box]:
        return [box for column in self.columns for box in column.boxes] + [box for band in self.bands for box in band.boxes]

    def box(self, kind: str, name: str) -> Box | None:
        return next((b for b in self.boxes if b.kind == kind and b.name == name), None)

    def column_of(self, vm_name: str) -> Column | None:
        return next((c for c in self.columns if any(b.name == vm_name for b in c.boxes)), None)


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[:chars - 1] + "…"


def _worst(marks) -> str:
    marks = set(marks)
    return ERROR if ERROR in marks else WARNING if WARNING in marks else ""


def _note(target, finding) -> None:
    """Mark a box or column with a finding about it."""
    if finding.id in target.finding_ids:
        return
    target.finding_ids.append(finding.id)
    target.problems.append(finding.message)
    target.mark = _worst([target.mark, finding.severity])


def _role_words(vm) -> str:
    if vm.role == "compute" and vm.cluster:
        return f"nova-compute for {vm.cluster}"
    return vm.role_label.split(" (")[0]


def layout(plan: Plan, spec: dict, *, hosts, vms, datastores: dict, findings) -> Topology:
    """Columns and boxes with their places.

    hosts: rows with moid, name, connection_state, power_state, in_maintenance_mode, cluster_name
    (the management cluster's, and any other a VM of the deployment runs on); vms: the deployment's
    VM rows (name, moid, host_moid, power_state, ip_address); datastores: {name: row with
    accessible, capacity_bytes, free_bytes}; findings: health's."""
    management = spec.get("management_cluster", "")
    hosts = {h.moid: h for h in hosts}
    found = {vm.name: vm for vm in vms}
    colours = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(plan.anti_affinity)}
    columns = _columns(plan, management, hosts, found, colours)
    vm_boxes = {box.name: box for column in columns for box in column.boxes}
    datastore_findings, rule_findings = _mark(findings, columns, vm_boxes)

    depth = max([len(c.boxes) for c in columns] + [1])
    top = MARGIN + TITLE_H
    for index, column in enumerate(columns):
        column.x, column.y = MARGIN + index * (COL_W + GAP), top
        column.h = HEAD_H + depth * (BOX_H + BOX_GAP)
        for row, box in enumerate(column.boxes):
            box.x, box.y = column.x + BOX_GAP, top + HEAD_H + row * (BOX_H + BOX_GAP)
    y = top + HEAD_H + depth * (BOX_H + BOX_GAP) + GAP
    bands = []
    for title, boxes in (("Datastores", _datastores(plan, datastores, datastore_findings)),
                         ("Port groups", _port_groups(plan, spec)),
                         ("Compute clusters", _compute_clusters(plan, spec, vm_boxes, found, hosts))):
        if not boxes:
            continue
        for index, box in enumerate(boxes):
            box.x, box.y, box.w, box.h = MARGIN + index * (COL_W + GAP), y + TITLE_H, COL_W, BAND_H
        bands.append(Band(title, y + 16, boxes))
        y += TITLE_H + BAND_H + GAP
    across = max([len(columns)] + [len(b.boxes) for b in bands] + [1])
    legend = [{"name": name, "colour": colours[name], "members": members,
               "problems": [f.message for f in rule_findings.get(name, [])],
               "mark": _worst(f.severity for f in rule_findings.get(name, []))}
              for name, members in plan.anti_affinity.items()]
    return Topology(width=2 * MARGIN + across * COL_W + (across - 1) * GAP, height=y - GAP + MARGIN,
                    heading=Text(MARGIN, MARGIN + 14, f"Management cluster: {management}", bold=True),
                    columns=columns, bands=bands, legend=legend)


def _columns(plan: Plan, management: str, hosts: dict, found: dict, colours: dict) -> list[Column]:
    """The management cluster's hosts by name (a host without our VMs too: room DRS may use), then
    other hosts our VMs run on by name, then the VMs with no known host, then those planned but not
    in vCenter; each VM in plan order, then those carrying our tag that the plan does not name."""
    group_of = {member: name for name, members in plan.anti_affinity.items() for member in members}
    ours = {h.moid: _host_column(h, management) for h in sorted(hosts.values(), key=lambda h: h.name)
            if getattr(h, "cluster_name", "") == management}
    others: dict[str, Column] = {}
    nohost = Column("Host not known", state="vCenter names no host", usable=False)
    missing = Column("Not in vCenter", state="planned, not found", usable=False)
    names = {vm.name for vm in plan.vms}
    for vm in list(plan.vms) + [_Unplanned(name) for name in found if name not in names]:
        row = found.get(vm.name)
        if row is None:
            column = missing
        elif row.host_moid in ours:
            column = ours[row.host_moid]
        elif row.host_moid in hosts:
            column = others.setdefault(row.host_moid, _host_column(hosts[row.host_moid], management))
        else:
            column = nohost
        column.boxes.append(_vm_box(vm, row, group_of, colours))
    return [*ours.values(), *sorted(others.values(), key=lambda c: c.name), *[c for c in (nohost, missing) if c.boxes]]


def _mark(findings, columns: list[Column], vm_boxes: dict) -> tuple[dict, dict]:
    """Mark the VMs and hosts each finding names; returns the findings by datastore and by rule,
    for the boxes drawn after."""
    hosts = {c.moid: c for c in columns if c.moid}
    host_names = {c.name: c for c in hosts.values()}
    by_datastore, by_rule = {}, {}
    for finding in findings:
        for ref in finding.objects:
            if ref.get("type") == "VirtualMachine" and ref.get("name") in vm_boxes:
                _note(vm_boxes[ref["name"]], finding)
            elif ref.get("type") == "HostSystem":
                column = hosts.get(ref.get("moid")) or host_names.get(ref.get("name"))
                if column is not None:
                    _note(column, finding)
            elif ref.get("type") == "Datastore":
                by_datastore.setdefault(ref.get("name"), []).append(finding)
        if finding.kind in RULE_KINDS:
            by_rule.setdefault(finding.id.split(":")[1], []).append(finding)
    return by_datastore, by_rule


@dataclass
class _Unplanned:
    """A VM that carries the deployment's tag but is not in its plan."""

    name: str
    role: str = ""
    role_label: str = "Not in the plan"
    cluster: str = ""
    management_ip: str = ""


def _host_column(host, management: str) -> Column:
    if host.in_maintenance_mode:
        state = "in maintenance mode"
    elif host.connection_state and host.connection_state != "connected":
        state = {"disconnected": "disconnected", "notResponding": "not responding"}.get(host.connection_state,
                                                                                         host.connection_state)
    elif host.power_state and host.power_state != "poweredOn":
        state = POWER.get(host.power_state, host.power_state).lower()
    else:
        state = "connected"
    cluster = getattr(host, "cluster_name", "")
    if cluster != management:
        state = f"{state}, in {cluster}" if cluster else f"{state}, in no cluster"
    usable = host.connection_state == "connected" and host.power_state == "poweredOn" and not host.in_maintenance_mode
    return Column(host.name, moid=host.moid, state=state, usable=usable)


def _vm_box(vm, row, group_of: dict, colours: dict) -> Box:
    group = group_of.get(vm.name, "")
    if row is None:
        lines = [_role_words(vm), f"Not in vCenter · planned {vm.management_ip}" if vm.management_ip else "Not in vCenter"]
        return Box("vm", vm.name, lines=lines, fill=FILL_OFF, colour=colours.get(group, ""), group=group, missing=True)
    power = POWER.get(row.power_state, row.power_state or "Power state unknown")
    address = row.ip_address or vm.management_ip
    return Box("vm", vm.name, lines=[_role_words(vm), f"{power} · {address}" if address else power],
               fill="#ffffff" if row.power_state == "poweredOn" else FILL_OFF, colour=colours.get(group, ""), group=group)


def _datastores(plan: Plan, rows: dict, findings: dict) -> list[Box]:
    counts: dict[str, int] = {}
    for vm in plan.vms:
        if vm.datastore:
            counts[vm.datastore] = counts.get(vm.datastore, 0) + 1
    boxes = []
    for name, count in counts.items():
        row = rows.get(name)
        if row is None:
            state = "not in vCenter"
        elif not row.accessible:
            state = "not accessible"
        elif row.capacity_bytes:
            state = f"{100 * row.free_bytes / row.capacity_bytes:.0f}% free"
        else:
            state = "accessible"
        box = Box("datastore", name, lines=[f"{_vms(count)} · {state}"])
        for finding in findings.get(name, []):
            _note(box, finding)
        boxes.append(box)
    return boxes


def _vms(count: int) -> str:
    return f"{count} VM" if count == 1 else f"{count} VMs"


def _port_groups(plan: Plan, spec: dict) -> list[Box]:
    boxes = []
    management = (spec.get("management_network") or {}).get("portgroup")
    if management:
        boxes.append(Box("network", management, lines=[f"management network · {_vms(len(plan.vms))}"]))
    external = (spec.get("external_network") or {}).get("portgroup")
    on_external = [vm.name for vm in plan.vms if vm.external_ip]
    if external and on_external:
        boxes.append(Box("network", external, lines=[f"external network · {_vms(len(on_external))}"]))
    return boxes


def _compute_clusters(plan: Plan, spec: dict, vm_boxes: dict, rows: dict, hosts: dict) -> list[Box]:
    boxes = []
    for cluster in spec.get("compute_clusters") or []:
        name = cluster.get("cluster", "")
        vm = next((v for v in plan.vms if v.role == "compute" and v.cluster == name), None)
        if vm is None:
            continue
        row = rows.get(vm.name)
        host = hosts.get(row.host_moid) if row is not None else None
        box = Box("cluster", name, lines=[f"nova-compute {vm.name}", f"on {host.name}" if host else "host not known"])
        served = vm_boxes.get(vm.name)
        if served is not None and served.mark:  # its nova-compute's trouble is the cluster's
            box.mark, box.problems, box.finding_ids = served.mark, list(served.problems), list(served.finding_ids)
        boxes.append(box)
    return boxes


def for_deployment(deployment, findings, plan: Plan | None = None) -> Topology | None:
    """The picture of one deployment from the stored inventory; None before a run built its cloud."""
    from django.db.models import Q

    from deployments.services.health import _plans
    from inventory.models import Datastore, Host, VirtualMachine

    plan = plan or _plans([deployment]).get(deployment.pk)
    if plan is None:
        return None
    vcenter = deployment.vcenter_id
    vms = [vm for vm in VirtualMachine.objects.filter(vcenter_id=vcenter, deployment_id=str(deployment.pk))
           .only("moid", "name", "host_moid", "power_state", "ip_address", "template") if not vm.template]
    management = deployment.spec.get("management_cluster", "")
    hosts = list(Host.objects.filter(Q(cluster__name=management) | Q(moid__in={vm.host_moid for vm in vms if vm.host_moid}),
                                     vcenter_id=vcenter).select_related("cluster")
                 .only("moid", "name", "connection_state", "power_state", "in_maintenance_mode", "cluster__name"))
    for host in hosts:
        host.cluster_name = host.cluster.name if host.cluster else ""
    datastores = {d.name: d for d in Datastore.objects.filter(vcenter_id=vcenter, name__in={vm.datastore for vm in plan.vms})
                  .only("name", "moid", "accessible", "capacity_bytes", "free_bytes")}
    return layout(plan, deployment.spec, hosts=hosts, vms=vms, datastores=datastores, findings=findings)
