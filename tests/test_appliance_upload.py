"""The appliance OVA by upload: the API (store once per content, refuse what is not an OVA, refuse deleting
what an active deployment uses), the spec's checks of appliance_ova.upload, the wizard's OVA step with a file,
and a run that imports the uploaded OVA into the vCenter simulator."""

import hashlib
import io
import tarfile
import time

import pytest

from deployments.choices import RunStatus
from deployments.models import ApplianceUpload, Deployment
from deployments.services import launch
from testkit.spec import registered_vcenter, valid_spec
from testkit.wizard import Wizard, finish, walk

DESCRIPTOR = b'<?xml version="1.0"?><Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"/>'


def ova_bytes(*, first: str = "vio.ovf", disk: bytes = b"disk" * 256, manifest_ok: bool = True) -> bytes:
    """A small OVA: descriptor, manifest (SHA256 lines), disk, in that order (as the OVF spec wants)."""
    members = {"vio.ovf": DESCRIPTOR, "vio-disk1.vmdk": disk}
    digests = {name: hashlib.sha256(data if manifest_ok else b"other").hexdigest() for name, data in members.items()}
    members["vio.mf"] = "".join(f"SHA256({name})= {digest}\n" for name, digest in digests.items()).encode()
    order = [first] + [name for name in ("vio.ovf", "vio.mf", "vio-disk1.vmdk") if name != first]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name in order:
            info = tarfile.TarInfo(name)
            info.size = len(members[name])
            archive.addfile(info, io.BytesIO(members[name]))
    return buffer.getvalue()


def named(data: bytes, name: str = "vio-appliance.ova") -> io.BytesIO:
    upload = io.BytesIO(data)
    upload.name = name
    return upload


@pytest.fixture
def data_dir(settings, tmp_path):
    """Uploads of this test only (the web side; a worker would use its own VIO_DATA_DIR)."""
    settings.DATA_DIR = tmp_path
    return tmp_path / "appliance-uploads"


def post(client, data: bytes, name: str = "vio-appliance.ova"):
    return client.post("/api/v1/appliance-uploads/", {"file": named(data, name)})


# --- the API ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_upload_is_stored_once_per_content_and_listed(admin_client, client, data_dir):
    data = ova_bytes()
    response = post(admin_client, data)
    assert response.status_code == 201, response.json()
    body = response.json()
    digest = hashlib.sha256(data).hexdigest()
    assert {key: body[key] for key in ("sha256", "size", "filename")} == {"sha256": digest, "size": len(data),
                                                                          "filename": "vio-appliance.ova"}
    assert body["uploaded_by"] == "admin" and response["Location"].endswith(f"/api/v1/appliance-uploads/{body['id']}/")
    stored = data_dir / f"{digest}.ova"
    assert stored.read_bytes() == data
    assert ApplianceUpload.objects.get().pk.hex == body["id"].replace("-", "")

    again = post(admin_client, data, name="copy.ova")
    assert again.status_code == 200 and again.json()["id"] == body["id"]  # the same content: that upload
    assert sorted(p.name for p in data_dir.iterdir()) == [f"{digest}.ova"]  # one file, no leftovers

    listed = admin_client.get("/api/v1/appliance-uploads/").json()
    assert [item["id"] for item in listed["results"]] == [body["id"]]
    assert admin_client.get(f"/api/v1/appliance-uploads/{body['id']}/").json()["sha256"] == digest
    assert client.get("/api/v1/appliance-uploads/").status_code in (401, 403)  # signed-in users only


@pytest.mark.django_db
def test_a_large_upload_is_streamed_to_disk_and_hashed(admin_client, data_dir, settings):
    disk = bytes(range(256)) * (6 * 4096)  # 6 MiB: over Django's in-memory limit, so it arrives as a temporary file
    data = ova_bytes(disk=disk)
    assert len(data) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    body = post(admin_client, data).json()
    assert body["size"] == len(data) and body["sha256"] == hashlib.sha256(data).hexdigest()
    assert (data_dir / f"{body['sha256']}.ova").stat().st_size == len(data)


@pytest.mark.django_db
@pytest.mark.parametrize("data, name, message", [
    (b"PK\x03\x04 a zip, not a tar", "appliance.zip",
     "appliance.zip is not an OVA: it is not a tar archive. Give the .ova file itself (not an .ovf, a zip or a disk)."),
    (ova_bytes(first="vio-disk1.vmdk"), "reordered.ova",
     "reordered.ova is not an OVA: its first file must be the .ovf descriptor (it starts with vio-disk1.vmdk)."),
    (ova_bytes(manifest_ok=False), "damaged.ova",
     "The descriptor vio.ovf in damaged.ova does not match its manifest: the OVA is damaged."),
])
def test_what_is_not_an_ova_is_refused_and_nothing_is_kept(admin_client, data_dir, data, name, message):
    response = post(admin_client, data, name)
    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "message": f"file: {message}",
                               "errors": [{"field": "file", "code": "not_an_ova", "message": message}]}
    assert not ApplianceUpload.objects.exists() and not list(data_dir.iterdir())


@pytest.mark.django_db
def test_an_upload_an_active_deployment_uses_cannot_be_deleted(admin_client, data_dir, vcsim):
    registered_vcenter(vcsim)
    upload = post(admin_client, ova_bytes()).json()
    spec = valid_spec(vcsim)
    spec["appliance_ova"] = {"upload": upload["id"]}
    created = admin_client.post("/api/v1/deployments/", {"spec": spec, "acknowledge": [
        "hostname_other_address@load_balancer.public_hostname"]}, content_type="application/json")
    assert created.status_code == 202, created.json()

    refused = admin_client.delete(f"/api/v1/appliance-uploads/{upload['id']}/")
    assert refused.status_code == 409
    assert refused.json() == {"code": "in_use", "errors": [], "message": "Deployment cloud1 is using this OVA; wait "
                                                                         "until it ends or cancel it first."}
    assert (data_dir / f"{upload['sha256']}.ova").exists()

    Deployment.objects.update(status="failed")
    assert admin_client.delete(f"/api/v1/appliance-uploads/{upload['id']}/").status_code == 204
    assert not ApplianceUpload.objects.exists() and not (data_dir / f"{upload['sha256']}.ova").exists()


@pytest.mark.django_db
def test_the_spec_accepts_an_upload_that_exists_and_refuses_an_unknown_one(admin_client, data_dir, vcsim):
    registered_vcenter(vcsim)
    upload = post(admin_client, ova_bytes()).json()
    spec = valid_spec(vcsim)

    def issues_on_upload(value):
        spec["appliance_ova"] = {"upload": value}
        body = admin_client.post("/api/v1/deployments/validate/", {"spec": spec}, content_type="application/json").json()
        return [(i["code"], i["message"]) for i in body["issues"] if i["field"] == "spec.appliance_ova.upload"]

    assert issues_on_upload(upload["id"]) == []
    unknown = "0b0b0b0b-0000-4000-8000-000000000000"
    assert issues_on_upload(unknown) == [("unknown_upload", f"There is no uploaded OVA with id {unknown}; upload the "
                                                            "file again or give its URL.")]
    assert issues_on_upload("not-an-id")[0][0] == "unknown_upload"
    (data_dir / f"{upload['sha256']}.ova").unlink()
    assert issues_on_upload(upload["id"])[0][0] == "upload_file_missing"

    spec["appliance_ova"] = {"upload": unknown}
    refused = admin_client.post("/api/v1/deployments/", {"spec": spec}, content_type="application/json")
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "spec.appliance_ova.upload"


# --- the wizard -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_wizard_takes_the_ova_as_a_file(admin_client, data_dir, vcsim):
    vcenter = registered_vcenter(vcsim)
    spec = valid_spec(vcsim)
    wizard = Wizard(admin_client)
    walk(wizard, spec, vcenter, until="appliance")
    page = wizard.get("appliance").content.decode()
    assert 'type="file" name="appliance-file"' in page and 'enctype="multipart/form-data"' in page

    errors = wizard.errors("appliance", {"source": "upload"}, files={"appliance-file": named(b"not a tar", "notes.txt")})
    assert errors == {"file": "notes.txt is not an OVA: it is not a tar archive. Give the .ova file itself (not an "
                              ".ovf, a zip or a disk)."}
    assert wizard.errors("appliance", {"source": "upload"}) == {
        "file": "Choose the .ova file to upload, or an OVA uploaded before."}

    data = ova_bytes()
    assert wizard.next("appliance", {"source": "upload"}, files={"appliance-file": named(data)}) == "review"
    upload = ApplianceUpload.objects.get()
    assert upload.sha256 == hashlib.sha256(data).hexdigest() and upload.uploaded_by.username == "admin"
    # Coming back, the stored OVA is chosen; Next keeps it without sending the file again.
    form = wizard.get("appliance").context["form"]
    assert form["source"].value() == "upload" and form["upload"].value() == str(upload.pk)
    assert wizard.next("appliance", {"source": "upload", "upload": str(upload.pk)}) == "review"

    assert finish(wizard).status_code == 302
    deployment = Deployment.objects.get()
    assert deployment.spec["appliance_ova"] == {"upload": str(upload.pk)}


@pytest.mark.django_db
def test_the_wizard_offers_an_ova_uploaded_before_and_still_takes_a_url(admin_client, data_dir, vcsim):
    vcenter = registered_vcenter(vcsim)
    existing = post(admin_client, ova_bytes(), "vio-2025.ova").json()
    spec = valid_spec(vcsim)
    wizard = Wizard(admin_client)
    walk(wizard, spec, vcenter, until="appliance")
    choices = dict(wizard.get("appliance").context["form"].fields["upload"].choices)
    assert choices[existing["id"]].startswith("vio-2025.ova")
    assert wizard.next("appliance", {"source": "upload", "upload": existing["id"]}) == "review"
    assert wizard.errors("appliance", {"source": "url"}) == {"url": "Enter the OVA's http:// or https:// URL."}
    assert wizard.next("appliance", {"source": "url", "url": spec["appliance_ova"]["url"]}) == "review"
    assert finish(wizard).status_code == 302
    assert Deployment.objects.get().spec["appliance_ova"] == spec["appliance_ova"]


# --- the size limit (VIO_OVA_MAX_BYTES) --------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_upload_over_the_limit_is_refused_and_nothing_is_kept(admin_client, data_dir, settings):
    data = ova_bytes()
    settings.VIO_OVA_MAX_BYTES = len(data) - 1
    refused = post(admin_client, data)
    assert refused.status_code == 400
    error = refused.json()["errors"][0]
    assert (error["field"], error["code"]) == ("file", "too_large")
    assert len(data) == 10240 and error["message"] == (
        "vio-appliance.ova is larger (10 KiB) than 9.99 KiB, the most VIO Manager accepts for an appliance OVA "
        "(VIO_OVA_MAX_BYTES).")
    assert not ApplianceUpload.objects.exists() and not (data_dir.exists() and list(data_dir.iterdir()))
    settings.VIO_OVA_MAX_BYTES = len(data)  # exactly the limit: taken
    assert post(admin_client, data).status_code == 201


@pytest.mark.django_db
def test_a_large_upload_over_the_limit_never_reaches_the_disk_beyond_it(admin_client, data_dir, settings):
    data = ova_bytes(disk=bytes(range(256)) * (6 * 4096))  # 6 MiB: Django streams it to a temporary file
    assert len(data) > settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    settings.VIO_OVA_MAX_BYTES = 1 << 20
    refused = post(admin_client, data)
    assert refused.status_code == 400 and refused.json()["errors"][0]["code"] == "too_large"
    assert "(6 MiB) than 1 MiB" in refused.json()["errors"][0]["message"]
    assert not ApplianceUpload.objects.exists() and not (data_dir.exists() and list(data_dir.iterdir()))


def test_the_upload_handler_stores_no_more_than_the_limit(settings, rf):
    """Django's temporary file for a large upload stops growing at the limit; the rest is only counted."""
    import os

    from deployments.services.appliance import LimitedTemporaryFileUploadHandler, store_upload
    from inventory.services.errors import ServiceError

    settings.VIO_OVA_MAX_BYTES = 3 << 19  # 1.5 MiB
    for chunks, stored, truncated in ((3, 3 << 19, True), (1, 1 << 20, False)):
        handler = LimitedTemporaryFileUploadHandler(rf.post("/"))
        handler.new_file("file", "vio.ova", "application/x-tar", None)
        for number in range(chunks):
            handler.receive_data_chunk(bytes([number]) * (1 << 20), number << 20)
        uploaded = handler.file_complete(chunks << 20)
        assert os.fstat(uploaded.file.fileno()).st_size == stored
        assert (uploaded.size, uploaded.truncated) == (chunks << 20, truncated)
        if truncated:
            with pytest.raises(ServiceError) as refused:
                store_upload(uploaded, "vio.ova")
            assert refused.value.code == "too_large"
        uploaded.close()


@pytest.mark.django_db
def test_the_wizard_refuses_an_ova_over_the_limit_and_a_url_the_download_would_refuse(admin_client, data_dir, vcsim,
                                                                                       settings):
    vcenter = registered_vcenter(vcsim)
    wizard = Wizard(admin_client)
    walk(wizard, valid_spec(vcsim), vcenter, until="appliance")
    data = ova_bytes()
    settings.VIO_OVA_MAX_BYTES = 1024
    assert "At most 1 KiB." in wizard.get("appliance").content.decode()
    errors = wizard.errors("appliance", {"source": "upload"}, files={"appliance-file": named(data)})
    assert errors == {"file": "vio-appliance.ova is larger (10 KiB) than 1 KiB, the most VIO Manager accepts for an "
                              "appliance OVA (VIO_OVA_MAX_BYTES)."}
    assert not ApplianceUpload.objects.exists()

    settings.VIO_OVA_ALLOWED_NETWORKS = []
    errors = wizard.errors("appliance", {"source": "url", "url": "http://169.254.169.254/latest/meta-data/"})
    assert errors == {"url": "Its host is 169.254.169.254, a link-local address (where cloud metadata services "
                             "answer). VIO Manager downloads only from public addresses, and from networks an "
                             "administrator lists in VIO_OVA_ALLOWED_NETWORKS."}
    too_long = wizard.errors("appliance", {"source": "url", "url": "https://a.example/" + "x" * 2048})
    assert "at most 2048 characters" in too_long["url"]
    assert wizard.next("appliance", {"source": "url", "url": "https://downloads.example.com/vio.ova"}) == "review"


# --- the engine -------------------------------------------------------------------------------------------------


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_run_imports_the_uploaded_ova(vcsim_factory, celery_worker, appliance_ova, admin_client):
    fresh = vcsim_factory()
    registered_vcenter(fresh)
    with appliance_ova.open("rb") as stream:
        response = admin_client.post("/api/v1/appliance-uploads/", {"file": stream})
    assert response.status_code in (200, 201), response.json()
    upload = response.json()
    data = valid_spec(fresh)
    data["appliance_ova"] = {"upload": upload["id"]}
    deployment = launch.create_deployment(data, acknowledged={"hostname_other_address@load_balancer.public_hostname"})
    run = deployment.runs.get()
    deadline = time.monotonic() + 180
    while run.status not in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED) and time.monotonic() < deadline:
        time.sleep(0.5)
        run.refresh_from_db()

    assert run.status == RunStatus.SUCCEEDED, (run.error, list(run.events.values_list("message", flat=True))[-5:])
    imported = run.steps.get(key="import_ova").output
    assert imported["sha256"] == upload["sha256"] == hashlib.sha256(appliance_ova.read_bytes()).hexdigest()
    assert imported["reused"] is False and imported["template"]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_uploading_the_ova_on_the_wizard_page(signed_in, live_server, vcsim, data_dir, tmp_path):
    from tests.test_wizard_browser import deploy, next_step, placement_and_networks, start

    page = signed_in
    registered_vcenter(vcsim)
    spec = valid_spec(vcsim)
    start(page, live_server)
    next_step(page, "datacenter")  # the only registered vCenter is chosen already
    placement_and_networks(page, spec)
    page.check("#id_neutron-mode_0")
    next_step(page, "dvs")
    page.select_option("#id_dvs-trunk_portgroup", "VIO-Data-Trunk")
    next_step(page, "keystone")
    page.fill("#id_keystone-admin_password", "Secret-Admin-1")
    next_step(page, "syslog")
    next_step(page, "appliance")

    ova = tmp_path / "vio-appliance-2025.ova"
    ova.write_bytes(ova_bytes())
    page.get_by_label("Upload the file (or use one uploaded before)").check()
    page.set_input_files("#id_appliance-file", str(ova))
    next_step(page, "review")
    deployment = deploy(page)
    upload = ApplianceUpload.objects.get()
    assert upload.filename == "vio-appliance-2025.ova" and deployment.spec["appliance_ova"] == {"upload": str(upload.pk)}
