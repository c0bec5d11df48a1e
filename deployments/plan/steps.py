"""The step graph of a deployment: what the engine does, in which order, and how much of the
progress each step is worth. VMs are cloned, customized, powered on and waited for in parallel."""

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
