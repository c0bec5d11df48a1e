"""Every page of the appliance with something on it, for the tests that visit them all (the security
headers over HTTP, the layout at 390 and 1440 px in Chromium): a synced vCenter and NSX Manager, a
succeeded deployment with two revisions and a long event log, a failed one, a torn-down one that
failed, a template, a token and audit events with long details. Django must be set up before these
are called; nothing here starts a run (no message reaches a worker)."""

from types import SimpleNamespace
from unittest import mock

ACK = "hostname_other_address@load_balancer.public_hostname"


def _deployment(vcenter_sim, name: str, user, *, ip_start: str, vip: str):
    from deployments.engine import dispatch
    from deployments.services import launch
    from testkit.spec import valid_spec

    data = valid_spec(vcenter_sim)
    data.update(name=name, load_balancer={"public_vip": vip, "public_hostname": "localhost"})
    last = ip_start.rsplit(".", 1)
    data["management_network"]["ip_ranges"] = [{"start": ip_start, "end": f"{last[0]}.{int(last[1]) + 20}"}]
    with mock.patch.object(dispatch, "advance"):  # no worker is to take it: the test sets its state
        return launch.create_deployment(data, user=user, acknowledged={ACK})


def build(vcsim, nsxv, admin) -> SimpleNamespace:
    """The objects behind every page; `admin` made them."""
    from deployments.choices import DeploymentStatus, RunKind, RunStatus, StepStatus
    from deployments.models import Deployment, DeploymentTemplate, Run, StepRun
    from deployments.services import revisions, runs
    from deployments.services.secrets import split_secrets
    from testkit.spec import registered_nsx, registered_vcenter, valid_spec
    from vio_manager.access import audit, tokens

    vcenter = registered_vcenter(vcsim)
    nsx = registered_nsx(nsxv, vcenter)

    # A succeeded deployment, its configuration changed once (revision 2 current), 130 events.
    cloud = _deployment(vcsim, "pagecloud", admin, ip_start="10.20.0.150", vip="192.0.2.7")
    run = cloud.runs.get()
    run.steps.update(status=StepStatus.SUCCEEDED)
    Run.objects.filter(pk=run.pk).update(status=RunStatus.SUCCEEDED)
    first = cloud.revisions.get(number=1)
    revisions.apply(first)
    changed = dict(cloud.spec, syslog={"host": "syslog.example.com", "port": 1514, "protocol": "tcp"})
    changed["compute_clusters"] = cloud.spec["compute_clusters"] + [{"cluster": "Compute-B", "datastores": ["vio-compute-nfs"]}]
    second = revisions.record(cloud, changed, revisions.secrets_of(first), user=admin, note="Add Compute-B, syslog over TCP")
    revisions.apply(second)
    for index in range(130):
        runs.log(run, f"Event number {index + 1} of the page test: a line as long as an engine's message gets, "
                      f"naming pagecloud-controller-0{index % 2 + 1} and its datastore vio-shared-nfs.")
    Deployment.objects.filter(pk=cloud.pk).update(status=DeploymentStatus.SUCCEEDED)

    # A failed one: its clone refused, the reason on the step.
    failed = _deployment(vcsim, "pagefail", admin, ip_start="10.20.0.200", vip="192.0.2.8")
    frun = failed.runs.get()
    clone = frun.steps.filter(kind="clone").order_by("id").first()
    StepRun.objects.filter(pk=clone.pk).update(
        status=StepStatus.FAILED, attempt=1,
        error=f"Cloning {clone.target} failed: vCenter reports insufficient resources on the chosen host. "
              "Free capacity in the management cluster, then resume the run.")
    Run.objects.filter(pk=frun.pk).update(status=RunStatus.FAILED, error=f"Clone {clone.target} failed.")
    Deployment.objects.filter(pk=failed.pk).update(status=DeploymentStatus.FAILED)

    # A teardown that failed (a row of its own: no addresses, no steps of a real plan).
    public, _ = split_secrets(valid_spec(vcsim))
    public["name"] = "pagedown"
    down = Deployment.objects.create(name="pagedown", vcenter=vcenter, spec=public, secrets="{}",
                                     status=DeploymentStatus.FAILED, created_by=admin)
    Run.objects.create(deployment=down, number=1, spec=public, status=RunStatus.SUCCEEDED, kind=RunKind.DEPLOY)
    trun = Run.objects.create(deployment=down, number=2, spec=public, status=RunStatus.FAILED, kind=RunKind.TEARDOWN,
                              error="Removing pagedown-db-01 failed: vCenter refused to delete it because it is powered on "
                                    "and locked by a backup job. Stop the backup job, then resume the teardown.")
    StepRun.objects.create(run=trun, key="destroy:pagedown-db-01", kind="destroy", target="pagedown-db-01",
                           status=StepStatus.FAILED, attempt=1, weight=1, error=trun.error)

    template = DeploymentTemplate.objects.create(name="lab template", description="The lab's cloud, saved for redeploys.",
                                                 schema_version=public["schema_version"], spec=public)
    token, _ = tokens.create_token(admin, "automation")
    for index in range(3):
        audit.record(audit.Actor.cli(admin), "vcenter.accept_certificate", vcenter,
                     {"fingerprint": ":".join(["AB"] * 32), "status": "connected",
                      "note": "a detail long enough to test the audit table's width " * 3})
    return SimpleNamespace(vcenter=vcenter, nsx=nsx, cloud=cloud, failed=failed, down=down, template=template,
                           token=token)


def page_urls(world, wizard_start: str, wizard_review: str) -> list[tuple[str, str]]:
    """(name, URL) of every page a signed-in admin can open."""
    from django.urls import NoReverseMatch, reverse

    vc, nsx, cloud = world.vcenter.pk, world.nsx.pk, world.cloud.pk
    optional = []  # pages other work adds: visited once they exist
    for name, url_name, args in (("vcenter vms", "vcenter-vms", [vc]),):
        try:
            optional.append((name, reverse(url_name, args=args)))
        except NoReverseMatch:
            pass
    return optional + [
        ("overview", "/"),
        ("vcenters", "/vcenters/"),
        ("vcenter", f"/vcenters/{vc}/"),
        ("vcenter add", "/vcenters/add/"),
        ("vcenter edit", f"/vcenters/{vc}/edit/"),
        ("vcenter certificate", f"/vcenters/{vc}/certificate/"),
        ("vcenter delete", f"/vcenters/{vc}/delete/"),
        ("vcenter inventory", f"/vcenters/{vc}/inventory/"),
        ("nsx managers", "/nsx-managers/"),
        ("nsx manager", f"/nsx-managers/{nsx}/"),
        ("nsx add", "/nsx-managers/add/"),
        ("nsx certificate", f"/nsx-managers/{nsx}/certificate/"),
        ("deployments", "/deployments/"),
        ("deployment succeeded", f"/deployments/{cloud}/"),
        ("deployment failed", f"/deployments/{world.failed.pk}/"),
        ("deployment teardown failed", f"/deployments/{world.down.pk}/"),
        ("change configuration", f"/deployments/{cloud}/change/"),  # the wizard in edit mode, at its review
        ("stop confirmation", f"/deployments/{world.failed.pk}/cancel/"),
        ("teardown confirmation", f"/deployments/{cloud}/teardown/"),
        ("templates", "/templates/"),
        ("template", f"/templates/{world.template.pk}/"),
        ("template upload", "/templates/upload/"),
        ("template delete", f"/templates/{world.template.pk}/delete/"),
        ("wizard first step", wizard_start),
        ("wizard review", wizard_review),
        ("audit log", "/audit/"),
        ("api tokens", "/account/tokens/"),
        ("404", "/deployments/999999/"),
    ]


def walk_to_review(client, world, vcsim) -> tuple[str, str]:
    """A wizard instance walked to its review step through `client`: (first step URL, review URL)."""
    from testkit.spec import valid_spec
    from testkit.wizard import Wizard, walk

    wizard = Wizard(client)
    spec = valid_spec(vcsim)
    spec.update(name="pagewiz", load_balancer={"public_vip": "192.0.2.9", "public_hostname": "localhost"})
    spec["management_network"]["ip_ranges"] = [{"start": "10.20.0.100", "end": "10.20.0.130"}]
    walk(wizard, spec, world.vcenter)
    return wizard.entry, wizard.url("review")
