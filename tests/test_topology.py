"""The topology picture's layout (deployments.services.topology.layout) from a plan, inventory rows
and findings built by hand: the management hosts as columns in name order with each VM on the host
vCenter says it runs on, VMs elsewhere or missing in columns of their own, a colour per anti-affinity
group with its legend, findings marked on the VMs, hosts, datastores and compute clusters they name,
and nothing drawn outside the picture or on top of anything else."""

from types import SimpleNamespace

from deployments.plan import Plan, PlannedVm
from deployments.services.health import ERROR, WARNING, Finding
from deployments.services.topology import BOX_H, CHAR_W, COL_W, PALETTE, STROKE, layout

SPEC = {"management_cluster": "Management", "management_network": {"portgroup": "VIO-Management"},
        "external_network": {"portgroup": "VIO-External"},
        "compute_clusters": [{"cluster": "Compute-A"}, {"cluster": "Compute-B"}]}


def _vm(name, role, label, ip, datastore="ds-1", external="", cluster=""):
    return PlannedVm(role=role, role_label=label, name=name, vcpu=2, memory_gb=4, disk_gb=20, datastore=datastore,
                     management_ip=ip, external_ip=external, cluster=cluster)


def _plan() -> Plan:
    return Plan(vms=[
        _vm("c1-lb-01", "lb", "Load balancer (internal and public VIP)", "10.0.0.11", external="192.0.2.11"),
        _vm("c1-lb-02", "lb", "Load balancer (internal and public VIP)", "10.0.0.12", external="192.0.2.12"),
        _vm("c1-controller-01", "controller", "Controller (Horizon, Keystone)", "10.0.0.13"),
        _vm("c1-controller-02", "controller", "Controller (Horizon, Keystone)", "10.0.0.14", datastore="ds-2"),
        _vm("c1-compute-01", "compute", "nova-compute for a compute cluster", "10.0.0.15", cluster="Compute-A"),
        _vm("c1-compute-02", "compute", "nova-compute for a compute cluster", "10.0.0.16", cluster="Compute-B"),
    ], internal_vip="10.0.0.10", public_vip="192.0.2.5",
        anti_affinity={"c1-lb": ["c1-lb-01", "c1-lb-02"], "c1-controller": ["c1-controller-01", "c1-controller-02"]})


def _host(moid, name, cluster="Management", connection="connected", power="poweredOn", maintenance=False):
    return SimpleNamespace(moid=moid, name=name, cluster_name=cluster, connection_state=connection, power_state=power,
                           in_maintenance_mode=maintenance)


def _row(name, host, power="poweredOn", ip=""):
    return SimpleNamespace(name=name, moid=f"vm-{name}", host_moid=host, power_state=power, ip_address=ip)


HOSTS = [_host("host-3", "esx-c.lab"), _host("host-1", "esx-a.lab"), _host("host-2", "esx-b.lab"),
         _host("host-9", "esx-z.lab", cluster="Compute-A")]
DATASTORES = {"ds-1": SimpleNamespace(accessible=True, capacity_bytes=1000, free_bytes=420),
              "ds-2": SimpleNamespace(accessible=False, capacity_bytes=1000, free_bytes=900)}


def _rows(**changes):
    rows = {"c1-lb-01": _row("c1-lb-01", "host-1", ip="10.0.0.11"), "c1-lb-02": _row("c1-lb-02", "host-2"),
            "c1-controller-01": _row("c1-controller-01", "host-1"), "c1-controller-02": _row("c1-controller-02", "host-3"),
            "c1-compute-01": _row("c1-compute-01", "host-2"), "c1-compute-02": _row("c1-compute-02", "host-3")}
    rows.update(changes)
    return [row for row in rows.values() if row is not None]


def _names(column):
    return [box.name for box in column.boxes]


def test_hosts_are_columns_in_name_order_with_each_vm_where_vcenter_runs_it():
    picture = layout(_plan(), SPEC, hosts=HOSTS, vms=_rows(), datastores=DATASTORES, findings=[])
    assert [c.name for c in picture.columns] == ["esx-a.lab", "esx-b.lab", "esx-c.lab"]  # not the compute host
    a, b, c = picture.columns
    assert _names(a) == ["c1-lb-01", "c1-controller-01"] and _names(b) == ["c1-lb-02", "c1-compute-01"]
    assert _names(c) == ["c1-controller-02", "c1-compute-02"]
    assert [col.x for col in picture.columns] == sorted(col.x for col in picture.columns)
    assert len({col.x for col in picture.columns}) == 3 and len({col.h for col in picture.columns}) == 1
    # Each VM box: its role for people, its power state and address (the guest's, else the planned one).
    lb = picture.box("vm", "c1-lb-01")
    assert lb.lines == ["Load balancer", "Powered on · 10.0.0.11"]
    assert picture.box("vm", "c1-lb-02").lines[1] == "Powered on · 10.0.0.12"
    assert picture.box("vm", "c1-compute-01").lines[0] == "nova-compute for Compute-A"
    assert a.x < lb.x and lb.x + lb.w < a.x + a.w and a.y < lb.y and lb.y + lb.h <= a.y + a.h  # inside its column
    assert picture.heading.text == "Management cluster: Management"
    assert not any(box.mark for box in picture.boxes) and not any(col.mark for col in picture.columns)


def test_each_anti_affinity_group_has_its_colour_and_a_legend():
    picture = layout(_plan(), SPEC, hosts=HOSTS, vms=_rows(), datastores=DATASTORES, findings=[])
    assert [(g["name"], g["colour"], g["members"]) for g in picture.legend] == [
        ("c1-lb", PALETTE[0], ["c1-lb-01", "c1-lb-02"]), ("c1-controller", PALETTE[1], ["c1-controller-01", "c1-controller-02"])]
    assert picture.box("vm", "c1-lb-02").colour == PALETTE[0] and picture.box("vm", "c1-lb-02").group == "c1-lb"
    assert picture.box("vm", "c1-controller-02").colour == PALETTE[1]
    assert picture.box("vm", "c1-compute-01").colour == ""  # in no group
    striped, plain = picture.box("vm", "c1-lb-01"), picture.box("vm", "c1-compute-01")
    assert striped.texts[0].x - striped.x > plain.texts[0].x - plain.x  # its text starts past the stripe


def test_datastores_port_groups_and_compute_clusters_below_the_hosts():
    picture = layout(_plan(), SPEC, hosts=HOSTS, vms=_rows(), datastores=DATASTORES, findings=[])
    assert [band.title for band in picture.bands] == ["Datastores", "Port groups", "Compute clusters"]
    datastores, networks, clusters = (band.boxes for band in picture.bands)
    assert [(b.name, b.lines) for b in datastores] == [("ds-1", ["5 VMs · 42% free"]), ("ds-2", ["1 VM · not accessible"])]
    assert [(b.name, b.lines) for b in networks] == [("VIO-Management", ["management network · 6 VMs"]),
                                                     ("VIO-External", ["external network · 2 VMs"])]
    assert [(b.name, b.lines) for b in clusters] == [("Compute-A", ["nova-compute c1-compute-01", "on esx-b.lab"]),
                                                     ("Compute-B", ["nova-compute c1-compute-02", "on esx-c.lab"])]
    bottom = max(col.y + col.h for col in picture.columns)
    tops = [band.boxes[0].y for band in picture.bands]
    assert bottom < tops[0] < tops[1] < tops[2]
    # Nothing outside the picture, nothing on top of anything else.
    boxes = picture.boxes
    for box in boxes:
        assert 0 <= box.x and box.x + box.w <= picture.width and 0 <= box.y and box.y + box.h <= picture.height, box.name
    for i, one in enumerate(boxes):
        for other in boxes[i + 1:]:
            apart = (one.x + one.w <= other.x or other.x + other.w <= one.x or one.y + one.h <= other.y
                     or other.y + other.h <= one.y)
            assert apart, (one.name, other.name)


def test_findings_are_marked_on_the_objects_they_name():
    off = Finding("vm_powered_off:c1-controller-01", "vm_powered_off", ERROR, "c1-controller-01 is powered off.",
                  "Power it on.", [{"type": "VirtualMachine", "name": "c1-controller-01", "moid": "vm-c1-controller-01"}],
                  "power_on")
    host = Finding("host_trouble:c1-compute-01", "host_trouble", WARNING, "c1-compute-01 runs on esx-b.lab, which is in "
                   "maintenance mode.", "Move it.", [{"type": "VirtualMachine", "name": "c1-compute-01", "moid": ""},
                                                     {"type": "HostSystem", "name": "esx-b.lab", "moid": "host-2"}], "move_vm")
    store = Finding("datastore_trouble:ds-2:c1-controller-02", "datastore_trouble", ERROR, "ds-2 is not accessible.",
                    "Check it.", [{"type": "VirtualMachine", "name": "c1-controller-02", "moid": ""},
                                  {"type": "Datastore", "name": "ds-2", "moid": "datastore-2"}])
    rule = Finding("rule_missing:c1-lb", "rule_missing", WARNING, "The anti-affinity rule c1-lb is missing from Management.",
                   "Restore it.", [{"type": "VirtualMachine", "name": m, "moid": ""} for m in ("c1-lb-01", "c1-lb-02")],
                   "restore_rule")
    rows = _rows(**{"c1-controller-01": _row("c1-controller-01", "host-1", power="poweredOff")})
    picture = layout(_plan(), SPEC, hosts=HOSTS, vms=rows, datastores=DATASTORES, findings=[off, host, store, rule])

    controller = picture.box("vm", "c1-controller-01")
    assert controller.mark == ERROR and controller.stroke == STROKE[ERROR] and controller.stroke_width == 3
    assert controller.finding_ids == [off.id] and "c1-controller-01 is powered off." in controller.title
    assert controller.lines[1].startswith("Powered off") and controller.fill != "#ffffff" and controller.badge
    compute = picture.box("vm", "c1-compute-01")
    assert compute.mark == WARNING and compute.dash  # a warning: dashed
    assert [c.mark for c in picture.columns] == ["", WARNING, ""] and "maintenance" in picture.columns[1].title
    assert picture.box("cluster", "Compute-A").mark == WARNING  # its nova-compute's trouble is the cluster's
    assert picture.box("cluster", "Compute-B").mark == ""
    assert picture.box("datastore", "ds-2").mark == ERROR and picture.box("datastore", "ds-1").mark == ""
    assert {picture.box("vm", n).mark for n in ("c1-lb-01", "c1-lb-02")} == {WARNING}
    legend = {g["name"]: g for g in picture.legend}
    assert legend["c1-lb"]["mark"] == WARNING and legend["c1-lb"]["problems"] == [rule.message]
    assert legend["c1-controller"]["mark"] == ""
    assert picture.box("vm", "c1-controller-02").mark == ERROR  # named by the datastore's finding


def test_missing_vms_other_hosts_and_vms_not_in_the_plan_get_columns_of_their_own():
    rows = _rows(**{"c1-lb-02": None, "c1-compute-01": _row("c1-compute-01", "host-9"),
                    "c1-stray": _row("c1-stray", "host-1"), "c1-controller-02": _row("c1-controller-02", "")})
    picture = layout(_plan(), SPEC, hosts=HOSTS, vms=rows, datastores={}, findings=[])
    names = [c.name for c in picture.columns]
    assert names[:3] == ["esx-a.lab", "esx-b.lab", "esx-c.lab"]
    assert names[3:] == ["esx-z.lab", "Host not known", "Not in vCenter"]
    assert picture.column_of("c1-compute-01").state == "connected, in Compute-A"
    missing = picture.box("vm", "c1-lb-02")
    assert picture.column_of("c1-lb-02").name == "Not in vCenter" and missing.missing and missing.dash
    assert missing.lines == ["Load balancer", "Not in vCenter · planned 10.0.0.12"]
    assert picture.column_of("c1-controller-02").name == "Host not known"
    stray = picture.box("vm", "c1-stray")
    assert picture.column_of("c1-stray").name == "esx-a.lab" and stray.lines[0] == "Not in the plan"
    assert [b.lines for b in picture.bands[0].boxes] == [["5 VMs · not in vCenter"], ["1 VM · not in vCenter"]]
    assert picture.width == 2 * 14 + 6 * COL_W + 5 * 14  # six columns across
    deepest = max(len(c.boxes) for c in picture.columns)
    assert all(c.h >= deepest * BOX_H for c in picture.columns)


def test_a_host_that_cannot_be_used_says_why_and_is_greyed():
    hosts = [_host("host-1", "esx-a.lab", maintenance=True), _host("host-2", "esx-b.lab", connection="notResponding"),
             _host("host-3", "esx-c.lab")]
    picture = layout(_plan(), SPEC, hosts=hosts, vms=_rows(), datastores=DATASTORES, findings=[])
    a, b, c = picture.columns
    assert (a.state, b.state, c.state) == ("in maintenance mode", "not responding", "connected")
    assert not a.usable and not b.usable and c.usable and a.fill == b.fill != c.fill


def test_long_names_are_cut_on_the_picture_and_whole_in_the_tooltip():
    long = "c1-a-name-far-too-long-for-one-line-of-a-box"
    plan = Plan(vms=[_vm(long, "swift", "Swift object storage", "10.0.0.20")], internal_vip="", public_vip="")
    picture = layout(plan, SPEC, hosts=HOSTS, vms=[_row(long, "host-1")], datastores={}, findings=[])
    box = picture.box("vm", long)
    assert box.texts[0].text.endswith("…") and len(box.texts[0].text) < len(long) and box.title.startswith(long)
    for text in box.texts:  # 7 px a character of the bold name, 6.4 of the lines below it
        assert text.x + len(text.text) * (7 if text.bold else CHAR_W) <= box.x + box.w, text
