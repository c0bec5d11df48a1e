"""Checks that span steps. How big the plan is (so the memory, disk and addresses it needs) is set on
three steps: the topology (Management cluster), the number of compute clusters (Compute clusters) and
the Neutron mode (DVS adds 2 DHCP VMs). Size checks belong to earlier steps (the management cluster's
free memory and datastores, each network's address count and free addresses, SIZE_CODES), and each is
reported on one step, where its cause is:

- on its own step, blocking, when it fails even with the later steps' choices at their smallest (one
  compute cluster, NSX): what that step holds is not enough whatever comes later;
- else on the first later sizing step whose choice makes it fail, blocking, with a link to its own
  step (where it can be fixed too); its own step shows it as a note, never as a refusal.

A step's probe is sized as known (the choices made, else the steps' defaults: the estimate every page
shows), so the numbers in a message are those of the topology hint and of the review."""

from dataclasses import replace

from deployments.spec.issues import ADVISORY
from deployments.spec.inventory_checks import SIZE_CODES, size_issues
from deployments.wizard import paths

SIZING_STEPS = ("compute", "neutron")  # the steps after every size check's own step that grow the plan
TITLES = {"compute": "Compute clusters", "neutron": "Neutron networking"}


def _smallest(spec, step: str):
    if step == "compute":
        return spec.model_copy(update={"compute_clusters": spec.compute_clusters[:1]})
    return spec.model_copy(update={"neutron": spec.neutron.model_copy(update={"mode": "nsx"})})


def _restore(partial, spec, step: str):
    if step == "compute":
        return partial.model_copy(update={"compute_clusters": spec.compute_clusters})
    return partial.model_copy(update={"neutron": spec.neutron})


def _keys(issues) -> set[tuple[str, str]]:
    return {(i.path, i.code) for i in issues if i.blocking}


def _later(state, step: str) -> list[str]:
    steps = state.steps()
    if step not in steps:
        return []
    return [s for s in SIZING_STEPS if s in steps and steps.index(s) > steps.index(step)]


def _deployment(state):
    return state.deployment if state.editing else None


def _sizes(state, spec, stand_ins=frozenset()) -> list:
    """size_issues with the wizard's own inventory picture and, editing, the plan the cloud runs."""
    return size_issues(spec, _deployment(state), stand_ins, context=state.inventory(spec.datacenter),
                       running=state.running)


def first_cause(state, spec, issue, later: list[str], stand_ins=frozenset()) -> str | None:
    """The first of the `later` sizing steps whose choice (in `spec`) makes this size issue appear, the
    ones after it at their smallest; None when it appears with all of them at their smallest."""
    key = (issue.path, issue.code)
    smallest = spec
    for step in later:
        smallest = _smallest(smallest, step)
    if not later or key in _keys(_sizes(state, smallest, stand_ins)):
        return None
    growing = smallest
    for step in later:
        growing = _restore(growing, spec, step)
        if key in _keys(_sizes(state, growing, stand_ins)):
            return step
    return None


def why(state, cause: str, spec, here: bool) -> str:
    """How a sizing step's choice reads in a message made on that step (here) or on another."""
    if cause == "compute":
        count = len(spec.compute_clusters)
        clusters = f"{count} compute cluster{'s' if count != 1 else ''}"
        return f"With the {clusters} chosen here" if here else f"With the {clusters} chosen on the step {TITLES[cause]}"
    if here:
        return "With DVS chosen here (it adds 2 DHCP VMs)"
    chosen = state.fragment("neutron") is not None or state.template_spec
    return (f"With DVS, {'chosen' if chosen else 'the default'} on the step {TITLES[cause]} (it adds 2 DHCP VMs; "
            "NSX does not)")


def own(state, step: str, spec, issues: list, stand_ins=frozenset()) -> list:
    """This step's issues, its size issues that a later step's choice causes turned into notes."""
    later = _later(state, step)
    if not later:
        return issues
    result = []
    for issue in issues:
        cause = first_cause(state, spec, issue, later, stand_ins) if issue.code in SIZE_CODES and issue.blocking else None
        if cause is None:
            result.append(issue)
        else:
            note = replace(issue, severity=ADVISORY, message=f"{why(state, cause, spec, here=False)}: {issue.message} "
                                                             "Fix it on that step, or here.")
            state.note_links[note.message] = cause
            result.append(note)
    return result


def caused_by(state, step: str, spec, stand_ins=frozenset()) -> list:
    """The size issues of earlier steps that this step's choice makes fail (the later sizing steps at
    their smallest), worded for this step; their path stays (the step they also concern)."""
    if step not in SIZING_STEPS:
        return []
    steps = state.steps()
    earlier = set(steps[:steps.index(step)]) if step in steps else set()
    base = spec
    for later in _later(state, step):
        base = _smallest(base, later)
    now = [i for i in _sizes(state, base, stand_ins) if i.blocking and paths.step_of(i.path) in earlier]
    if not now:
        return []
    before = _keys(_sizes(state, _smallest(base, step), stand_ins))
    instead = " Or choose fewer compute clusters here." if step == "compute" else " Or choose NSX here."
    return [replace(i, message=f"{why(state, step, spec, here=True)}: {i.message}{instead}")
            for i in now if (i.path, i.code) not in before]


def reported_step(state, issue, spec) -> str:
    """The step where the wizard reports this issue of the whole spec (see the module's note)."""
    owner = paths.step_of(issue.path)
    if issue.code not in SIZE_CODES or spec is None or not issue.blocking:
        return owner
    return first_cause(state, spec, issue, _later(state, owner)) or owner
