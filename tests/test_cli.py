"""The command line: `manage.py deploy --wait` in a process of its own against a real worker and the
vCenter simulator, a bad spec refused with the field's JSON path and exit 1, `status --follow`
tailing a run that fails and `retry --wait` finishing it, refused cancel/retry, and templates
exported and imported again."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from deployments.choices import RunStatus
from deployments.models import Deployment, DeploymentTemplate
from deployments.services import status
from deployments.services.secrets import split_secrets
from deployments.services.templates import export_document, import_template
from tests.conftest import test_database_url
from testkit.spec import registered_vcenter, valid_spec
from vio_manager.access.models import AuditEvent

ROOT = Path(__file__).resolve().parent.parent
ACK = "hostname_other_address@load_balancer.public_hostname"


def compact(vcsim, name: str, ova: str = "https://127.0.0.1:8443/vio-appliance.ova") -> dict:
    """A small deployment (one control VM, one compute VM): quick to run on the simulator."""
    data = valid_spec(vcsim)
    data.update(name=name, topology="compact", appliance_ova={"url": ova})
    return data


def manage(*args: str, queue: str = "unused", timeout: float = 300) -> subprocess.CompletedProcess:
    """`manage.py ARGS` as an operator runs it, on the test database and the test worker's queue."""
    env = dict(os.environ, DATABASE_URL=test_database_url(), CELERY_TASK_DEFAULT_QUEUE=queue)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def command(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_deploy_wait_runs_to_success_and_exits_0(vcsim_factory, celery_worker, ova_url, tmp_path):
    fresh = vcsim_factory()
    registered_vcenter(fresh)
    spec_file = tmp_path / "cloud.yaml"
    spec_file.write_text(yaml.safe_dump(compact(fresh, "cli1", ova_url)))

    done = manage("deploy", "--spec", str(spec_file), "--wait", "--timeout", "180", "--acknowledge", ACK,
                  queue=celery_worker.queue)

    assert done.returncode == 0, done.stderr + done.stdout
    deployment = Deployment.objects.get(name="cli1")
    lines = done.stdout.splitlines()
    assert lines[0] == f"Deployment cli1 created (id {deployment.pk}): /deployments/{deployment.pk}/"
    assert lines[1].startswith("Run 1 started with ") and lines[-1] == "Run 1 of cli1 succeeded."
    assert any("Clone cli1-control-01: succeeded." in line for line in lines)  # the events, as they came
    assert deployment.status == "succeeded" and deployment.latest_run.status == RunStatus.SUCCEEDED

    shown = command("status", "cli1")
    assert "cli1 (id" in shown and "run 1: succeeded, 100% done" in shown
    vms = status.vms(deployment, deployment.latest_run)
    assert [vm["power_state"] for vm in vms] == ["poweredOn", "poweredOn"]
    assert all(vm["guest_ip"] == vm["management_ip"] and vm["moid"].startswith("vm-") for vm in vms)
    assert "cli1-control-01" in shown and "poweredOn" in shown and vms[0]["management_ip"] in shown

    with pytest.raises(CommandError, match="Not stopped: Nothing is running: only a queued or running deployment can be stopped"):
        command("cancel", "cli1")
    with pytest.raises(CommandError, match="Not resumed: Only a failed or stopped run can be resumed. Run 1 of cli1 is succeeded"):
        command("retry", str(deployment.pk))  # by id, too
    with pytest.raises(CommandError, match="No deployment with the id or name 'nope'"):
        command("status", "nope")


@pytest.mark.django_db(transaction=True)
def test_a_bad_spec_is_refused_with_its_json_paths_and_exit_1(vcsim, tmp_path):
    registered_vcenter(vcsim)
    bad = compact(vcsim, "bad1")
    bad["management_network"]["gateway"] = "10.20.0.25"  # inside the range it hands out
    del bad["keystone"]["admin_password"]
    (tmp_path / "bad.json").write_text(json.dumps(bad))

    refused = manage("deploy", "--spec", str(tmp_path / "bad.json"))
    assert refused.returncode == 1
    assert "Not deployed: the spec is not valid" in refused.stderr
    assert "keystone.admin_password: is required [missing]" in refused.stderr

    bad["keystone"]["admin_password"] = "Secret-Admin-1"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    refused = manage("deploy", "--spec", str(tmp_path / "bad.json"))
    assert refused.returncode == 1 and "management_network.gateway:" in refused.stderr
    assert "[gateway_in_range]" in refused.stderr

    good = compact(vcsim, "good1")
    (tmp_path / "good.json").write_text(json.dumps(good))
    unacknowledged = manage("deploy", "--spec", str(tmp_path / "good.json"))
    assert unacknowledged.returncode == 1 and f"--acknowledge {ACK}" in unacknowledged.stderr
    assert manage("deploy", "--spec", str(tmp_path / "missing.json")).returncode == 1
    (tmp_path / "list.yaml").write_text("- not\n- a spec\n")
    assert "must hold one object" in manage("deploy", "--spec", str(tmp_path / "list.yaml")).stderr
    assert not Deployment.objects.exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_status_follow_tails_a_failing_run_and_retry_wait_finishes_it(vcsim_factory, celery_worker, ova_url, tmp_path):
    fresh = vcsim_factory()
    registered_vcenter(fresh)
    fresh.inject(method="CloneVM_Task", match="cli2-compute-01", fault="InsufficientResourcesFault", count=1)
    # A template file with its secret added back: what an operator deploys from.
    data = compact(fresh, "cli2", ova_url)
    document = export_document(data, "cli2")
    document["spec"] = data
    (tmp_path / "cli2.json").write_text(json.dumps(document))
    created = command("deploy", "--spec", str(tmp_path / "cli2.json"), "--acknowledge", ACK)
    assert "Follow it with: manage.py status cli2 --follow" in created

    out = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("status", "cli2", "--follow", "--timeout", "180", stdout=out)
    assert str(failed.value).startswith("Run 1 of cli2 failed: Clone cli2-compute-01 failed: Cloning cli2-compute-01 failed:")
    followed = out.getvalue()
    assert "Events:" in followed and "Run 1 created" in followed
    assert "ERROR Clone cli2-compute-01: failed. Cloning cli2-compute-01 failed: " in followed
    assert "failed: Clone cli2-compute-01: " in followed  # the closing summary names the failed step

    retried = command("retry", "cli2", "--wait", "--timeout", "180")
    assert retried.startswith("Resuming run 1 of cli2 from where it ended.")
    assert "Resumed after it failed" in retried and "Run 1 created" not in retried  # only what came after
    assert retried.rstrip().endswith("Run 1 of cli2 succeeded.")
    assert Deployment.objects.get(name="cli2").latest_run.steps.get(key="clone:cli2-compute-01").attempt == 2
    logged = AuditEvent.objects.filter(target_label="cli2").order_by("created_at", "id")
    assert [(e.action, e.via) for e in logged] == [("deployment.create", "cli"), ("deployment.retry", "cli")]


@pytest.mark.django_db
def test_templates_export_and_import_round_trip(vcsim, tmp_path):
    public, _ = split_secrets(valid_spec(vcsim))
    template = import_template(export_document(public, "lab"))
    exported = tmp_path / "lab.json"

    command("export-template", "lab", "-o", str(exported))
    document = json.loads(exported.read_text())
    assert document == export_document(template.spec, "lab") and "admin_password" not in exported.read_text()
    assert json.loads(command("export-template", str(template.pk))) == document  # by id, to standard output

    imported = command("import-template", str(exported), "--name", "lab-copy")
    copy = DeploymentTemplate.objects.get(name="lab-copy")
    assert imported.strip() == f"Imported the template lab-copy (id {copy.pk})." and copy.spec == template.spec
    assert AuditEvent.objects.filter(action="template.import", via="cli", target_id=str(copy.pk)).exists()

    with pytest.raises(CommandError, match="name: A template named 'lab' exists"):
        command("import-template", str(exported))
    document["spec"]["colour"] = "blue"
    document["spec"]["keystone"]["admin_password"] = "x" * 12
    exported.write_text(json.dumps(document))
    with pytest.raises(CommandError) as refused:
        command("import-template", str(exported), "--name", "broken")
    message = str(refused.value)
    assert "spec.colour: is not a field" in message and "spec.keystone.admin_password: A template must not hold secrets" in message
    with pytest.raises(CommandError, match="No template with the id or name 'nope'"):
        command("export-template", "nope")
    assert not DeploymentTemplate.objects.filter(name="broken").exists()
