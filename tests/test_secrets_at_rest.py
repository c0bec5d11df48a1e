"""Secrets on the appliance's disk and in its database: the kolla-ansible bundle (passwords.yml and the
overrides) is private from its first byte, and the idempotency record keeps only a keyed hash of a body.
(The embedded data directory and SQLite database: tests/test_settings.py.)"""

import hashlib
import json
import os
import stat
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from testkit.api import post_json
from testkit.spec import registered_vcenter, valid_spec

# What the audit hook saw while recording: Python raises an audit event for every open, mkdir, chmod and
# rename, with the flags and modes asked for, so how each file came to be is known, not guessed from
# the result. A hook cannot be removed: it records only while _RECORDING is a list.
_RECORDING: list | None = None


def _audit(event: str, args: tuple) -> None:
    if _RECORDING is not None and event in ("open", "os.mkdir", "os.chmod", "os.rename"):
        _RECORDING.append((event, args))


sys.addaudithook(_audit)


def _under(root: Path, path) -> Path | None:
    if isinstance(path, int) or path is None:
        return None
    path = Path(os.fsdecode(path))
    return path if path.is_relative_to(root) else None


@pytest.mark.django_db
def test_the_kolla_bundle_is_private_from_its_first_byte(vcsim, settings, tmp_path):
    """With a umask that lets everything through: every directory made 0700, every file created new
    (O_EXCL) by os.open, never chmod-ed afterwards, and 0600 in the end. Together: each file had mode
    0600 from the moment it existed, before any byte was written."""
    global _RECORDING
    from deployments.engine.executor import StepContext
    from deployments.engine.steps import openstack
    from deployments.services import launch

    data = tmp_path / "data"
    data.mkdir(mode=0o700)  # as settings make it
    settings.DATA_DIR = data
    registered_vcenter(vcsim)
    deployment = launch.create_deployment(valid_spec(vcsim), acknowledged={
        "hostname_other_address@load_balancer.public_hostname"})
    context = StepContext(step=deployment.runs.get().steps.get(key="render_bundle"))

    seen, umask = [], os.umask(0)
    _RECORDING = seen
    try:
        output = openstack.render_bundle(context)
    finally:
        _RECORDING = None
        os.umask(umask)

    bundle = Path(output["directory"])
    root = data / "deployments"
    files = sorted(p for p in bundle.rglob("*") if p.is_file())
    assert bundle / "passwords.yml" in files and len(files) == output["files"]
    assert "vmware_vcenter_host_password" in (bundle / "passwords.yml").read_text()
    directories = [root, *sorted(p for p in root.rglob("*") if p.is_dir())]
    assert {str(p.relative_to(data)): oct(stat.S_IMODE(p.stat().st_mode)) for p in directories} == {
        str(p.relative_to(data)): "0o700" for p in directories}
    assert {str(p.relative_to(bundle)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {
        str(p.relative_to(bundle)): "0o600" for p in files}

    made = {_under(root, args[0]): args[1] for event, args in seen if event == "os.mkdir" and _under(root, args[0])}
    assert set(made) == set(directories) and set(made.values()) == {0o700}
    assert [args for event, args in seen if event == "os.chmod" and _under(root, args[0])] == []
    created = {}
    for event, args in seen:
        path = _under(root, args[0])
        if event == "open" and path is not None and args[2] & (os.O_WRONLY | os.O_RDWR):
            assert args[1] is None, f"{path} opened for writing with open(..., {args[1]!r}), not os.open"
            assert args[2] & os.O_CREAT and args[2] & os.O_EXCL, f"{path} written without being created new"
            created[path] = True
    renamed = {Path(os.fsdecode(args[1])): Path(os.fsdecode(args[0])) for event, args in seen if event == "os.rename"}
    assert all(renamed.get(path) in created for path in files), "a bundle file that was not created new, then renamed"
    assert [p for p in bundle.rglob("*.part")] == []


@pytest.mark.django_db
def test_the_idempotency_record_keeps_a_keyed_hash_of_the_body(admin_client, settings):
    from vio_manager.models import IdempotencyRecord

    spec = valid_spec(SimpleNamespace(host="vc.example.test", port=443))
    del spec["keystone"]["admin_password"]
    body = {"template": {"kind": "vio-manager/deployment-template", "name": "lab", "schema_version": 1, "spec": spec}}
    assert post_json(admin_client, "/api/v1/templates/", body, **{"Idempotency-Key": "k1"}).status_code == 201
    stored = IdempotencyRecord.objects.get().request_hash
    bare = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert len(stored) == 64 and stored != bare  # a bare hash lets anyone with the database test guesses
    replayed = post_json(admin_client, "/api/v1/templates/", body, **{"Idempotency-Key": "k1"})
    assert replayed.status_code == 201 and replayed["Idempotent-Replayed"] == "true"
    # Keyed with SECRET_KEY: the same body under another key gives another hash.
    from vio_manager.api.idempotency import body_digest

    assert body_digest(body) == stored
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    assert body_digest(body) != stored


@pytest.mark.django_db
def test_an_ova_url_with_credentials_is_kept_as_a_secret_and_shown_without_them(admin_client, vcsim, synced_vcenter):
    """The API, the page and templates show the URL without its user name and password; the engine
    gets the whole URL from the encrypted secrets."""
    from deployments.models import Deployment
    from deployments.services.launch import deployment_spec_with_secrets

    data = dict(valid_spec(vcsim), appliance_ova={"url": "https://builder:Build-Pass-7@ova.example.com/vio.ova"})
    created = post_json(admin_client, "/api/v1/deployments/", {
        "spec": data, "acknowledge": ["hostname_other_address@load_balancer.public_hostname"]})
    assert created.status_code == 202, created.json()
    shown = admin_client.get(created.json()["url"]).json()["spec"]["appliance_ova"]["url"]
    assert shown == "https://***@ova.example.com/vio.ova"
    deployment = Deployment.objects.get(pk=created.json()["id"])
    assert "Build-Pass-7" not in json.dumps(deployment.spec) and "Build-Pass-7" not in json.dumps(deployment.runs.get().spec)
    assert "Build-Pass-7" not in admin_client.get(f"/deployments/{deployment.pk}/").content.decode()
    assert deployment_spec_with_secrets(deployment)["appliance_ova"]["url"] == data["appliance_ova"]["url"]
