"""What one wizard instance knows: the spec fragment each step produced, the template (or, editing a
deployment, the revision) it started from, the ids of the passwords typed into it. All of it lives in
the wizard's own session storage (formtools' extra_data), which never holds a password.

A step is validated on a *probe*: a whole spec made of this step's fragment, the fragments of the steps
before it, and harmless placeholders for the steps after it (as many compute clusters, and the Neutron
mode, as known so far: the estimate the pages show), so that a step is never judged with what a later
step says; a later step's choice that makes an earlier step's check fail is reported on the later step
(spanning.py). The spec's own validator runs on it, all its checks in one pass (a value that does
not parse stands in for itself: validate.parse_with_stand_ins), and only the issues on paths this step
owns count (paths.step_of), so the placeholders never show.

A step left with problems (the step list, Back, a link of the review) keeps what it holds as far as its
fields read (its *draft* fragment), marked as a problem: later steps still know the datacenter or the
cluster chosen there, and the review says what to fix, where.
"""

import copy
from functools import cached_property

from deployments.models import WizardSecret
from deployments.services.secrets import PLACEHOLDER, merge_secrets, missing_secrets, with_placeholder_secrets
from deployments.spec.consistency import consistency_issues
from deployments.spec.inventory_checks import InventoryContext
from deployments.spec.validate import SECTION_STAND_INS, STAND_INS, hidden, parse_with_stand_ins
from deployments.wizard import paths, spanning

SKELETON = {**copy.deepcopy(STAND_INS), "keystone": {"admin_user": "admin", "admin_project": "admin", "backend": "sql"}}
NEUTRON_PLACEHOLDERS = {"dvs": copy.deepcopy(STAND_INS["neutron"]["dvs"]),
                        "nsx": copy.deepcopy(SECTION_STAND_INS[("neutron", "nsx")])}
LDAP_PLACEHOLDER = {key: value for key, value in SECTION_STAND_INS[("keystone", "ldap")].items() if key != "bind_password"}


def deep_merge(base: dict, *layers: dict) -> dict:
    result = copy.deepcopy(base)
    for layer in layers:
        for key, value in (layer or {}).items():
            if isinstance(value, dict) and isinstance(result.get(key), dict):
                result[key] = deep_merge(result[key], value)
            else:
                result[key] = copy.deepcopy(value)
    return result


def _complete_sections(spec: dict) -> dict:
    """Give the chosen Neutron mode and Keystone backend their sections (placeholders if no step
    has given them yet) and drop the other mode's."""
    neutron = spec.get("neutron") or {}
    mode = neutron.get("mode")
    if mode in NEUTRON_PLACEHOLDERS:
        for other in NEUTRON_PLACEHOLDERS:
            if other != mode:
                neutron.pop(other, None)
        neutron.setdefault(mode, copy.deepcopy(NEUTRON_PLACEHOLDERS[mode]))
    keystone = spec.get("keystone") or {}
    if keystone.get("backend") == "ldap":
        keystone.setdefault("ldap", copy.deepcopy(LDAP_PLACEHOLDER))
    else:
        keystone.pop("ldap", None)
    return spec


# Which step gives which part of a spec: how a whole spec (a deployment's revision) becomes fragments.
STEP_KEYS = {
    "start": ("schema_version", "name"),
    "vcenter": ("vcenter",),
    "datacenter": ("datacenter", "topology", "management_cluster", "management_datastores"),
    "management_network": ("management_network",),
    "external_network": ("external_network",),
    "load_balancer": ("load_balancer",),
    "compute": ("compute_clusters",),
    "glance": ("glance_datastore",),
    "keystone": ("keystone",),
    "syslog": ("syslog",),
    "appliance": ("appliance_ova",),
}


def fragments_of(spec: dict) -> dict[str, dict]:
    """{step: fragment} of a whole spec, as the steps would have given it."""
    fragments = {step: {key: copy.deepcopy(spec[key]) for key in keys if key in spec} for step, keys in STEP_KEYS.items()}
    fragments["syslog"].setdefault("syslog", None)
    neutron = spec.get("neutron") or {}
    fragments["neutron"] = {"neutron": {"mode": neutron.get("mode")}}
    for mode in ("dvs", "nsx"):
        if neutron.get(mode):
            fragments[mode] = {"neutron": {mode: copy.deepcopy(neutron[mode])}}
    return fragments


class WizardState:
    def __init__(self, view):
        self.view = view
        self.storage = view.storage
        self.user = view.request.user
        self.note_links: dict[str, str] = {}  # a step's note (a check another step's choice fails) -> that step

    # --- storage ------------------------------------------------------------------------------

    @property
    def extra(self) -> dict:
        return self.storage.extra_data

    def _bucket(self, name: str) -> dict:
        return self.extra.setdefault(name, {})

    @property
    def template_spec(self) -> dict | None:
        return self.extra.get("template_spec")

    def steps(self) -> list[str]:
        return list(self.view.get_form_list())

    def fragment(self, step: str) -> dict | None:
        return self._bucket("fragments").get(step)

    def set_fragment(self, step: str, fragment: dict | None, *, problem: bool = False) -> None:
        """This step's part of the spec; problem: what it holds now does not pass its checks (a draft)."""
        if fragment is None:
            self._bucket("fragments").pop(step, None)
        else:
            self._bucket("fragments")[step] = fragment
        problems = set(self.extra.get("problems") or [])
        problems = problems | {step} if problem else problems - {step}
        self.extra["problems"] = sorted(problems)
        self.__dict__.pop("inventory_cache", None)
        self.__dict__.pop("vcenter", None)

    def completed(self, step: str) -> bool:
        return self.fragment(step) is not None and not self.has_problem(step)

    def has_problem(self, step: str) -> bool:
        return step in (self.extra.get("problems") or [])

    def visited(self, step: str) -> bool:
        return self.fragment(step) is not None or self.storage.get_step_data(step) is not None

    # --- specs --------------------------------------------------------------------------------

    def merged(self, *, without: str | None = None, until: str | None = None) -> dict:
        """The fragments of the steps that apply now, in step order (those before `until` only)."""
        fragments = self._bucket("fragments")
        steps = self.steps()
        if until is not None and until in steps:
            steps = steps[:steps.index(until)]
        return deep_merge({}, *(fragments[s] for s in steps if s != without and s in fragments))

    def known_size(self) -> tuple[str, str, int]:
        """(topology, Neutron mode, number of compute clusters) as the steps done so far give them, else
        as the template has them, else the steps' defaults (HA, DVS, one cluster)."""
        merged, template = self.merged(), self.template_spec or {}
        topology = merged.get("topology") or template.get("topology") or "ha"
        mode = (merged.get("neutron") or {}).get("mode") or (template.get("neutron") or {}).get("mode") or "dvs"
        clusters = len(merged.get("compute_clusters") or template.get("compute_clusters") or [None])
        return topology, mode if mode in ("dvs", "nsx") else "dvs", max(clusters, 1)

    def probe(self, step: str, fragment: dict, secrets: dict | None = None) -> dict:
        """The spec a step is checked on: the steps before it, this step's fragment, placeholders for
        the steps after it, sized as known (the estimate the pages show: known_size)."""
        skeleton = copy.deepcopy(SKELETON)
        steps = self.steps()
        position = steps.index(step) if step in steps else len(steps)
        _, mode, clusters = self.known_size()
        if "compute" in steps and position < steps.index("compute"):
            skeleton["compute_clusters"] = [{"cluster": f"placeholder-{n}", "datastores": ["placeholder"]}
                                            for n in range(1, clusters + 1)]
        if "neutron" in steps and position < steps.index("neutron"):
            skeleton["neutron"] = {"mode": mode}
        spec = _complete_sections(deep_merge(skeleton, self.merged(until=step), fragment))
        filled = {path: PLACEHOLDER for path in missing_secrets(spec)}
        filled.update({path: value for path, value in (secrets or {}).items() if value})
        return merge_secrets(spec, filled)

    def check(self, step: str, fragment: dict, *, secrets: dict | None = None, inventory=None) -> list:
        """The spec's issues on the paths `step` owns, all in one pass: shape, consistency and the
        inventory slice (`inventory(spec)`), the last two also on what parsed of a spec that did not
        (stand-ins for the rest); plus, on the steps that size the plan, the checks of earlier steps
        that this step's choice makes fail (spanning.caused_by)."""
        spec, issues, checked, stand_ins = parse_with_stand_ins(self.probe(step, fragment, secrets))
        if checked is not None:
            found = consistency_issues(checked, stand_ins)
            if inventory is not None:
                found += inventory(checked)
            issues = issues + [i for i in found if not hidden(i.path, stand_ins)]
        mine = [issue for issue in issues if paths.step_of(issue.path) == step]
        if checked is not None:
            mine = spanning.own(self, step, checked, mine, stand_ins) + spanning.caused_by(self, step, checked, stand_ins)
        return mine

    def public_spec(self) -> dict:
        return self.merged()

    def spec_for_checks(self) -> dict:
        """The whole spec with placeholder secrets: for previews and checks, never for a deployment."""
        return with_placeholder_secrets(self.public_spec())

    # --- inventory ----------------------------------------------------------------------------

    def known(self, step: str, key: str):
        """A value as the step gave it, else as the template has it (to fill the pickers of the
        steps that come before that one is confirmed)."""
        fragment = self.fragment(step)
        if fragment is not None:
            return fragment.get(key)
        return (self.template_spec or {}).get(key)

    @property
    def vcenter_ref(self) -> tuple[str, int] | None:
        ref = self.known("vcenter", "vcenter")
        return (ref["host"], ref.get("port", 443)) if ref else None

    @cached_property
    def vcenter(self):
        from inventory.models import VCenter

        ref = self.vcenter_ref
        return VCenter.objects.filter(host=ref[0], port=ref[1]).first() if ref else None

    @cached_property
    def inventory_cache(self) -> dict:
        return {}

    def inventory(self, datacenter: str | None = None) -> InventoryContext:
        """The synced inventory of the wizard's vCenter (one context per datacenter per request)."""
        if datacenter is None:
            datacenter = self.known("datacenter", "datacenter")
        if datacenter not in self.inventory_cache:
            self.inventory_cache[datacenter] = InventoryContext(self.vcenter, datacenter)
        return self.inventory_cache[datacenter]

    @property
    def management_cluster(self) -> str | None:
        return self.known("datacenter", "management_cluster")

    # --- secrets: only WizardSecret ids are kept ----------------------------------------------

    def has_secret(self, path: str) -> bool:
        """Typed into this wizard, or (editing) held by the deployment: left empty, it is kept."""
        return path in self._bucket("secret_ids") or path in (self.extra.get("kept_secrets") or [])

    # --- the appliance OVA's URL, checked where it is typed -------------------------------------

    OVA_CHECK_SECONDS = 600

    def check_ova(self, url: str, *, fresh: bool = False) -> list:
        """The live check of the OVA's URL (spec.ova), kept for the review: again when `fresh` (the
        step was posted), when the URL changed, or when the last answer is older than 10 minutes."""
        import time

        from deployments.spec.issues import Issue
        from deployments.spec.ova import check_ova_url
        from inventory.clients.download import redact

        kept = self.extra.get("ova_check") or {}
        if fresh or kept.get("url") != redact(url) or time.time() - kept.get("at", 0) > self.OVA_CHECK_SECONDS:
            result = check_ova_url(self.ova_url_to_check(url))
            kept = {**result.as_dict(), "url": redact(url), "at": time.time()}
            self.extra["ova_check"] = kept
        return [Issue(**issue) for issue in kept.get("issues", [])]

    def ova_url_to_check(self, url: str) -> str:
        """Editing, the current URL is shown without its credentials: checked with them."""
        if self.editing and self.deployment is not None:
            from deployments.services import revisions
            from deployments.services.secrets import OVA_URL

            revision = revisions.current(self.deployment)
            secret = revisions.secrets_of(revision).get(OVA_URL) if revision else None
            if secret and (revision.spec.get("appliance_ova") or {}).get("url") == url:
                return secret
        return url

    @property
    def ova_facts(self) -> dict | None:
        return self.extra.get("ova_check")

    # --- editing a deployment -------------------------------------------------------------------

    @property
    def editing(self) -> bool:
        return bool(self.extra.get("editing"))

    @cached_property
    def deployment(self):
        from deployments.models import Deployment

        pk = self.extra.get("editing")
        return Deployment.objects.select_related("vcenter").filter(pk=pk).first() if pk else None

    @cached_property
    def running(self):
        """Editing: the plan the cloud runs now (its VMs' memory and disk are in use already)."""
        from deployments.spec.inventory_checks import running_plan

        return running_plan(self.deployment) if self.editing else None

    def locked(self, step: str) -> dict[str, str]:
        """{form field: why} of what cannot change on a running cloud (editing only)."""
        if not self.editing:
            return {}
        from deployments.services.changes import IMMUTABLE

        found = {}
        for path, why in IMMUTABLE.items():
            located = paths.locate(path)
            if located.step == step and located.target.field:
                found[located.target.field] = why
        return found

    def keep_secret(self, path: str, value: str) -> None:
        ids = self._bucket("secret_ids")
        old = ids.get(path)
        ids[path] = WizardSecret.objects.create(owner=self.user, value=value).pk
        if old:
            WizardSecret.objects.filter(pk=old, owner=self.user).delete()

    def forget_secret(self, path: str) -> None:
        old = self._bucket("secret_ids").pop(path, None)
        if old:
            WizardSecret.objects.filter(pk=old, owner=self.user).delete()

    def forget_all_secrets(self) -> None:
        for path in list(self._bucket("secret_ids")):
            self.forget_secret(path)

    def secrets(self) -> dict[str, str]:
        """{path: password} of the secrets the spec needs, decrypted (for create_deployment only)."""
        ids = self._bucket("secret_ids")
        rows = {row.pk: row for row in WizardSecret.objects.filter(owner=self.user, pk__in=list(ids.values()))}
        return {path: rows[pk].value.reveal() for path, pk in ids.items() if pk in rows}
