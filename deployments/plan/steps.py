"""The step graphs of a deployment's runs: what the engine does, in which order, and how much of the
progress each step is worth. VMs are cloned, customized, powered on and waited for in parallel; a
teardown removes rules, VMs, pool, folder, template, files and addresses, then checks vCenter."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StepDef:
    key: str
    kind: str
    target: str = ""
    depends_on: tuple[str, ...] = field(default_factory=tuple)
    weight: int = 1


def step_graph(spec, plan) -> list[StepDef]:
    steps = [StepDef("preflight", "preflight", weight=2)]
    gate = ("preflight",)
    if spec.neutron.mode == "nsx":
        steps.append(StepDef("nsx_checks", "nsx_checks", depends_on=gate, weight=1))
        gate = ("nsx_checks",)
    steps += [
        StepDef("import_ova", "import_ova", depends_on=gate, weight=10),
        StepDef("folders", "folders", depends_on=gate, weight=1),
    ]
    clones, ready = [], []
    for vm in plan.vms:
        clone, customize = f"clone:{vm.name}", f"customize:{vm.name}"
        steps += [
            StepDef(clone, "clone", vm.name, ("import_ova", "folders"), weight=5),
            StepDef(customize, "customize", vm.name, (clone,), weight=2),
        ]
        clones.append(customize)
    steps.append(StepDef("anti_affinity", "anti_affinity", depends_on=tuple(clones), weight=1))
    for vm in plan.vms:
        power_on, wait = f"power_on:{vm.name}", f"wait_guest:{vm.name}"
        steps += [
            StepDef(power_on, "power_on", vm.name, (f"customize:{vm.name}", "anti_affinity"), weight=1),
            StepDef(wait, "wait_guest", vm.name, (power_on,), weight=3),
        ]
        ready.append(wait)
    steps += [
        StepDef("render_bundle", "render_bundle", depends_on=tuple(ready), weight=2),
        StepDef("configure", "configure", depends_on=("render_bundle",), weight=20),
        StepDef("validate", "validate", depends_on=("configure",), weight=3),
    ]
    return steps


def change_graph(new_plan, added: list, removed: list, anti_affinity_changes: bool) -> list[StepDef]:
    """The steps of a change run: only the difference. New VMs are made as in a deployment (the
    template and folder adopted, not made again), removed ones deleted once the reconfigured cloud
    no longer uses them; the bundle is rendered again, applied, and the cloud validated."""
    steps = [StepDef("preflight", "preflight", weight=1)]
    gate, ready = ("preflight",), []
    if added:
        steps += [StepDef("import_ova", "import_ova", depends_on=gate, weight=1),
                  StepDef("folders", "folders", depends_on=gate, weight=1)]
        for vm in added:
            clone, customize = f"clone:{vm.name}", f"customize:{vm.name}"
            steps += [StepDef(clone, "clone", vm.name, ("import_ova", "folders"), weight=5),
                      StepDef(customize, "customize", vm.name, (clone,), weight=2)]
        customized = tuple(f"customize:{vm.name}" for vm in added)
        if anti_affinity_changes:
            steps.append(StepDef("anti_affinity", "anti_affinity", depends_on=customized, weight=1))
        for vm in added:
            after = (f"customize:{vm.name}",) + (("anti_affinity",) if anti_affinity_changes else ())
            steps += [StepDef(f"power_on:{vm.name}", "power_on", vm.name, after, weight=1),
                      StepDef(f"wait_guest:{vm.name}", "wait_guest", vm.name, (f"power_on:{vm.name}",), weight=3)]
            ready.append(f"wait_guest:{vm.name}")
    steps += [StepDef("render_bundle", "render_bundle", depends_on=tuple(ready) or gate, weight=2),
              StepDef("configure", "configure", depends_on=("render_bundle",), weight=10)]
    gone = [f"remove_vm:{vm.name}" for vm in removed]
    steps += [StepDef(key, "remove_vm", vm.name, ("configure",), weight=2) for key, vm in zip(gone, removed)]
    steps.append(StepDef("validate", "validate", depends_on=("configure", *gone), weight=3))
    return steps


def repair_graph(repair: str, vm=None, rule: str = "", in_group: bool = False) -> list[StepDef]:
    """The steps of a repair run, one kind of finding at a time: power a VM on; make a missing VM
    again (then reconfigure the cloud for it); restore an anti-affinity rule; move a VM to a host
    its group allows."""
    if repair == "power_on":
        return [StepDef(f"power_on:{vm.name}", "power_on", vm.name, weight=1),
                StepDef(f"wait_guest:{vm.name}", "wait_guest", vm.name, (f"power_on:{vm.name}",), weight=3)]
    if repair == "restore_rule":
        return [StepDef("anti_affinity", "anti_affinity", target=rule, weight=1)]
    if repair == "move_vm":
        return [StepDef(f"relocate:{vm.name}", "relocate", vm.name, weight=3)]
    if repair == "recreate_vm":
        clone, customize = f"clone:{vm.name}", f"customize:{vm.name}"
        steps = [StepDef("import_ova", "import_ova", weight=1), StepDef("folders", "folders", weight=1),
                 StepDef(clone, "clone", vm.name, ("import_ova", "folders"), weight=5),
                 StepDef(customize, "customize", vm.name, (clone,), weight=2)]
        before_power = (customize,)
        if in_group:
            steps.append(StepDef("anti_affinity", "anti_affinity", depends_on=(customize,), weight=1))
            before_power = (customize, "anti_affinity")
        steps += [StepDef(f"power_on:{vm.name}", "power_on", vm.name, before_power, weight=1),
                  StepDef(f"wait_guest:{vm.name}", "wait_guest", vm.name, (f"power_on:{vm.name}",), weight=3),
                  StepDef("render_bundle", "render_bundle", depends_on=(f"wait_guest:{vm.name}",), weight=2),
                  StepDef("configure", "configure", depends_on=("render_bundle",), weight=10),
                  StepDef("validate", "validate", depends_on=("configure",), weight=3)]
        return steps
    raise ValueError(f"no repair named {repair}")


def teardown_graph() -> list[StepDef]:
    """Everything a deployment made, removed whatever state its runs ended in (found by tag and by
    deterministic name), then a look at vCenter that must find nothing of it."""
    return [
        StepDef("remove_rules", "remove_rules", weight=1),
        StepDef("remove_vms", "remove_vms", depends_on=("remove_rules",), weight=10),
        StepDef("remove_pool", "remove_pool", depends_on=("remove_vms",), weight=1),
        StepDef("remove_folder", "remove_folder", depends_on=("remove_vms",), weight=1),
        StepDef("remove_template", "remove_template", depends_on=("remove_vms",), weight=2),
        StepDef("remove_files", "remove_files", weight=1),
        StepDef("verify_removed", "verify_removed",
                depends_on=("remove_pool", "remove_folder", "remove_template", "remove_files"), weight=1),
        StepDef("release_addresses", "release_addresses", depends_on=("verify_removed",), weight=1),
    ]


LABELS = {
    "preflight": "Pre-flight checks", "nsx_checks": "NSX checks", "import_ova": "Import the appliance OVA",
    "folders": "Create the VM folder and resource pool", "clone": "Clone {}", "customize": "Customize {}",
    "anti_affinity": "Anti-affinity rules", "power_on": "Power on {}", "wait_guest": "Wait for guest: {}",
    "render_bundle": "Render the kolla-ansible bundle", "configure": "Run kolla-ansible",
    "validate": "Validate the cloud",
    "remove_rules": "Remove the anti-affinity rules", "remove_vms": "Delete the VMs",
    "remove_pool": "Remove the resource pool", "remove_folder": "Remove the VM folder",
    "remove_template": "Remove the appliance template", "remove_files": "Delete the bundle and its secrets",
    "verify_removed": "Check that nothing is left in vCenter", "release_addresses": "Release the addresses",
    "remove_vm": "Delete {}", "relocate": "Move {} to another host",
}


def describe(kind: str, target: str = "") -> str:
    """A step as people name it: "Clone cloud1-lb-01", "Wait for guest: cloud1-db-02"."""
    label = LABELS.get(kind, kind.replace("_", " ").capitalize() + (" {}" if target else ""))
    return label.format(target) if "{}" in label else label
