"""The ansible-runner driver (deployments/engine/ansible.py) running real ansible against localhost
(ansible_connection=local): events streamed, failures with host and message, secrets scrubbed, cancel, timeout,
a lost driver; and the configure step following it. kolla's own playbooks are not run here (no hosts)."""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from deployments.engine import ansible
from deployments.engine.executor import StepCancelled, StepFailed

SECRET = "Sup3r-Secret-Passw0rd"


def playbook(directory: Path, name: str, tasks: list[dict]) -> str:
    path = directory / f"{name}.yml"
    path.write_text(yaml.safe_dump([{"name": f"Play {name}", "hosts": "all", "gather_facts": False, "tasks": tasks}]))
    return str(path)


@pytest.fixture
def bundle(tmp_path):
    """A directory laid out like a rendered bundle: an inventory of localhost, globals.yml, passwords.yml."""
    (tmp_path / "inventory").mkdir()
    (tmp_path / "inventory" / "multinode").write_text(
        f"[control]\nnode1 ansible_host=127.0.0.1 ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    (tmp_path / "globals.yml").write_text("---\nkolla_base_distro: ubuntu\n")
    (tmp_path / "passwords.yml").write_text(yaml.safe_dump({"keystone_admin_password": SECRET,
                                                            "nested": {"private_key": "K" * 20}}))
    return tmp_path


def run(bundle: Path, stages: list[dict], timeout: float = 120, **kwargs) -> dict:
    return ansible.start(bundle, stages, inventory=bundle / "inventory" / "multinode", timeout=timeout,
                         secrets_file=bundle / "passwords.yml", **kwargs)


def follow(handle: dict, limit: float = 90, on_event=None) -> tuple[str, list[dict], str]:
    seen = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        state, events, error = ansible.poll(handle)
        seen += events
        for event in events:
            if on_event:
                on_event(event)
        if state in ansible.TERMINAL:
            return state, seen, error
        time.sleep(0.2)
    pytest.fail(f"still running after {limit} s: {seen[-3:]}")


def test_a_run_streams_plays_tasks_and_recaps_stage_after_stage(bundle):
    handle = run(bundle, [
        {"name": "first", "playbook": playbook(bundle, "first", [{"name": "Say hello", "ansible.builtin.debug": {"msg": "hi"}}])},
        {"name": "second", "playbook": playbook(bundle, "second", [
            {"name": "Touch a file", "ansible.builtin.file": {"path": str(bundle / "made-by-ansible"), "state": "touch"}}])},
    ])
    assert handle["pid"] > 0 and Path(handle["directory"]).parent == bundle / "runner"
    assert oct(Path(handle["directory"]).stat().st_mode & 0o777) == "0o700"

    state, events, error = follow(handle)

    assert (state, error) == (ansible.SUCCEEDED, "")
    assert (bundle / "made-by-ansible").exists()  # ansible really ran
    stages = [(e["stage"], e["state"]) for e in events if e["type"] == "stage"]
    assert stages == [("first", "started"), ("first", "succeeded"), ("second", "started"), ("second", "succeeded")]
    assert [e["task"] for e in events if e["type"] == "task"] == ["Say hello", "Touch a file"]
    recap = next(e for e in events if e["type"] == "recap" and e["stage"] == "second")
    assert recap["hosts"]["node1"]["changed"] == 1
    lines = ansible.describe(events, {}, label="kolla-ansible", every=0)
    assert ("info", "kolla-ansible first: started.") in lines
    assert ("info", "second: play Play second") in lines
    assert any(text.startswith("second recap: node1 ok=1 changed=1 failed=0") for _, text in lines)
    assert ansible.poll(handle) == (ansible.SUCCEEDED, [], "")  # nothing new: the offset moved on
    # ansible-runner's full events (module args, results, vars) are not kept on disk.
    assert not list((Path(handle["directory"]) / "artifacts" / "first" / "job_events").glob("*.json"))


def test_a_failing_task_names_task_host_and_message_and_no_secret_is_written(bundle):
    handle = run(bundle, [
        {"name": "broken", "playbook": playbook(bundle, "broken", [
            {"name": "Ignored failure", "ansible.builtin.command": "false", "ignore_errors": True},
            {"name": "Check the database", "ansible.builtin.fail": {"msg": f"cannot log in with {SECRET} to mariadb"}}])},
        {"name": "never", "playbook": playbook(bundle, "never", [{"name": "Not reached", "ansible.builtin.debug": {}}])},
    ])
    state, events, error = follow(handle)

    assert state == ansible.FAILED
    assert error == "broken: task 'Check the database' failed on node1: cannot log in with ******** to mariadb"
    assert not any(e["stage"] == "never" for e in events)  # a failed stage stops the run
    errors = [text for level, text in ansible.describe(events, {}, every=0) if level == "error"]
    assert "broken: task Check the database failed on node1: cannot log in with ******** to mariadb" in errors
    assert not any("Ignored failure" in text for text in errors)  # ignore_errors failures are not alarms
    directory = Path(handle["directory"])
    for path in directory.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path
    assert "cannot log in with ******** to mariadb" in (directory / "output.log").read_text()


def test_an_unreachable_host_and_a_broken_playbook_are_explained(bundle):
    (bundle / "inventory" / "multinode").write_text("[control]\nghost ansible_host=127.0.0.1 ansible_port=1 "
                                                    "ansible_user=nobody ansible_connection=ssh\n")
    state, _, error = follow(run(bundle, [{"name": "reach", "playbook": playbook(bundle, "reach", [
        {"name": "Ping it", "ansible.builtin.ping": {}}])}]))
    assert state == ansible.FAILED and error.startswith("reach: task 'Ping it' could not reach ghost:"), error

    state, _, error = follow(run(bundle, [{"name": "typo", "playbook": str(bundle / "missing.yml")}]))
    assert state == ansible.FAILED
    assert "ansible-playbook ended with exit code" in error and "missing.yml could not be found" in error


def test_cancel_stops_a_running_task(bundle):
    marker = "417.25"  # a sleep nobody else runs, to find its process
    handle = run(bundle, [{"name": "slow", "playbook": playbook(bundle, "slow", [
        {"name": "Wait a long time", "ansible.builtin.command": f"sleep {marker}"}])}])
    follow_until = time.monotonic() + 60
    while time.monotonic() < follow_until and not _running(f"sleep {marker}"):
        time.sleep(0.2)
    assert _running(f"sleep {marker}"), "the task never started"

    started = time.monotonic()
    assert ansible.cancel(handle, wait=20) is True
    state, _, error = follow(handle, limit=10)

    assert (state, error) == (ansible.CANCELLED, "cancelled during slow")
    assert time.monotonic() - started < 15
    assert not _running(f"sleep {marker}")


def test_the_timeout_stops_ansible_and_a_killed_driver_is_reported(bundle):
    handle = run(bundle, [{"name": "slow", "playbook": playbook(bundle, "slow", [
        {"name": "Wait too long", "ansible.builtin.command": "sleep 60"}])}], timeout=3)
    state, _, error = follow(handle, limit=30)
    assert state == ansible.FAILED and error == "slow did not finish within 3 s: it was stopped"

    marker = "sleep 23.75"
    handle = run(bundle, [{"name": "slow", "playbook": playbook(bundle, "slow", [
        {"name": "Wait too long", "ansible.builtin.command": marker}])}])
    os.kill(handle["pid"], signal.SIGKILL)
    state, _, error = follow(handle, limit=10)
    assert state == ansible.FAILED and "ended without a result" in error
    # ansible-playbook outlives a killed driver (it runs in its own session): stop what this test started.
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout.split()
    for pid in map(int, found):
        os.kill(pid, signal.SIGTERM)


def test_the_driver_gets_no_secret_of_the_worker_from_its_environment(bundle, monkeypatch):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "worker-secret-key-value")
    monkeypatch.setenv("ANSIBLE_FORCE_COLOR", "0")
    handle = run(bundle, [{"name": "env", "playbook": playbook(bundle, "env", [
        {"name": "Show the environment", "ansible.builtin.debug": {"msg": "{{ lookup('env', 'DJANGO_SECRET_KEY') }}"}}])}])
    assert follow(handle)[0] == ansible.SUCCEEDED
    command = json.loads((Path(handle["directory"]) / "artifacts" / "env" / "command").read_text())
    assert "DJANGO_SECRET_KEY" not in command["env"] and command["env"]["ANSIBLE_FORCE_COLOR"] == "0"
    assert "worker-secret-key-value" not in (Path(handle["directory"]) / "output.log").read_text()


def test_kolla_stages_and_arguments_are_what_the_kolla_ansible_cli_runs(bundle):
    from kolla_ansible import ansible as kolla_cli

    from deployments.engine.kolla.check import kolla_share

    stages = ansible.kolla_stages(kolla_share())
    assert [s["name"] for s in stages] == ["bootstrap-servers", "prechecks", "deploy"]
    expected_actions = {"bootstrap-servers": ("kolla-host.yml", "bootstrap-servers"), "prechecks": ("site.yml", "precheck"),
                        "deploy": ("site.yml", "deploy")}
    for stage in stages:
        playbook_name, action = expected_actions[stage["name"]]
        assert Path(stage["playbook"]).name == playbook_name and Path(stage["playbook"]).exists()
        parsed = argparse.Namespace(
            kolla_config_path=str(bundle), inventory=[str(bundle / "inventory" / "multinode")], vault_id=[],
            vault_password_file=[], ask_vault_password=False, list_tasks=False, extra_vars=None, become=False,
            check=False, diff=False, limit=None, skip_tags=None, tags=None)
        extra = {"kolla_action": action}
        if action == "bootstrap-servers":
            extra["ansible_python_interpreter"] = "auto_silent"
        _, theirs = kolla_cli.build_args(parsed, [stage["playbook"]], extra_vars=extra)
        ours = ["--inventory", str(bundle / "inventory" / "multinode")] + ansible.kolla_arguments(bundle) + stage["arguments"]
        assert sorted(_pairs(ours)) == sorted(_pairs(theirs[:-1])) and theirs[-1] == stage["playbook"]


# --- the configure step, with tiny playbooks in place of kolla's -----------------------------------------------


def step_context(bundle: Path, checkpoint: dict | None = None):
    logged = []
    ctx = SimpleNamespace(outputs={"render_bundle": {"directory": str(bundle)}}, run=SimpleNamespace(change={}),
                          step=SimpleNamespace(checkpoint=dict(checkpoint or {})), cancelled=threading.Event(),
                          logged=logged, log=lambda message, level="info": logged.append((level, message)))
    ctx.save_checkpoint = lambda **values: ctx.step.checkpoint.update(values)
    return ctx


@pytest.fixture
def real_hosts(settings):
    settings.VIO_SIMULATED_HOSTS = False
    return settings


def tiny_kolla(monkeypatch, bundle: Path, tasks: list[dict]):
    """kolla_stages() gives one stage whose playbook checks what kolla's CLI passes (globals, CONFIG_DIR, action)."""
    checks = [{"name": "Kolla's variables are passed", "ansible.builtin.assert": {"that": [
        "kolla_base_distro == 'ubuntu'", f"CONFIG_DIR == '{bundle.resolve()}'", "kolla_action == 'deploy'",
        "keystone_admin_password | length > 0"]}}]
    book = playbook(bundle, "site", checks + tasks)
    monkeypatch.setattr(ansible, "kolla_stages", lambda share: [
        {"name": "deploy", "playbook": book, "arguments": ["-e", "kolla_action=deploy"]}])


def test_configure_runs_the_bundle_and_logs_readably(bundle, real_hosts, monkeypatch):
    from deployments.engine.steps.openstack import configure

    tiny_kolla(monkeypatch, bundle, [{"name": "Start keystone", "ansible.builtin.debug": {"msg": "ok"}}])
    ctx = step_context(bundle)
    output = configure(ctx)

    assert output["stages"] == ["deploy"] and Path(output["runner"]).parent == bundle / "runner"
    messages = [text for _, text in ctx.logged]
    assert any(m.startswith("kolla-ansible deploy started in the background") for m in messages)
    assert "kolla-ansible deploy: succeeded." in messages
    assert any(m.startswith("deploy recap: node1 ok=2") for m in messages)
    assert ctx.step.checkpoint["ansible"]["directory"] == output["runner"]


def test_configure_fails_with_the_task_host_and_message(bundle, real_hosts, monkeypatch):
    from deployments.engine.steps.openstack import configure

    tiny_kolla(monkeypatch, bundle, [{"name": "Start nova", "ansible.builtin.fail": {"msg": "nova_compute is unhealthy"}}])
    with pytest.raises(StepFailed) as failure:
        configure(step_context(bundle))
    assert str(failure.value) == "kolla-ansible failed: deploy: task 'Start nova' failed on node1: nova_compute is unhealthy"


def test_configure_stops_ansible_when_the_run_is_cancelled(bundle, real_hosts, monkeypatch):
    from deployments.engine.steps.openstack import configure

    tiny_kolla(monkeypatch, bundle, [{"name": "Long task", "ansible.builtin.command": "sleep 300"}])
    ctx = step_context(bundle)
    threading.Timer(3, ctx.cancelled.set).start()
    with pytest.raises(StepCancelled):
        configure(ctx)
    assert "kolla-ansible deploy: cancelled." in [text for _, text in ctx.logged]


def test_configure_hands_on_to_a_new_task_and_a_new_attempt_adopts_the_same_run(bundle, real_hosts, monkeypatch):
    from deployments.engine.steps import openstack as steps
    from deployments.engine.executor import Again

    monkeypatch.setattr(steps, "KOLLA_FOLLOW_SECONDS", 1)
    tiny_kolla(monkeypatch, bundle, [{"name": "Slow task", "ansible.builtin.command": "sleep 6"}])
    ctx = step_context(bundle)
    assert isinstance(steps.configure(ctx), Again)  # the task ends; ansible goes on in its own process

    monkeypatch.setattr(steps, "KOLLA_FOLLOW_SECONDS", 60)
    retry = step_context(bundle, checkpoint=ctx.step.checkpoint)  # as after a lost worker: a new attempt
    output = steps.configure(retry)
    assert output["runner"] == ctx.step.checkpoint["ansible"]["directory"]  # the same run, not a second one
    assert [p.name for p in (bundle / "runner").iterdir()] == ["1"]
    assert any(text.startswith("Following the kolla-ansible run") for _, text in retry.logged)


def _pairs(arguments: list[str]) -> list[tuple[str, str]]:
    return [(arguments[i], arguments[i + 1]) for i in range(0, len(arguments) - 1, 2)]


def _running(pattern: str) -> bool:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0
