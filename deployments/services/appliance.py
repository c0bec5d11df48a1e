"""Appliance OVAs uploaded to VIO Manager: streamed to disk while hashed (they are GBs), checked to be
an OVA, kept once per content under DATA_DIR/appliance-uploads/<sha256>.ova. At most
settings.VIO_OVA_MAX_BYTES, counted while the bytes arrive: what is larger never fills the disk."""

import hashlib
import os
import tarfile
import tempfile
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.db import IntegrityError, transaction

from deployments.choices import ACTIVE
from deployments.models import ApplianceUpload, Deployment
from deployments.models.appliance import uploads_directory
from deployments.spec.issues import Issue
from inventory.services.errors import ServiceError

CHUNK_SIZE = 1 << 20


class LimitedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Django's handler for large uploads (settings.FILE_UPLOAD_HANDLERS), keeping at most
    VIO_OVA_MAX_BYTES of each file: the rest is counted, not stored. The file's size is what was sent
    and it is marked truncated, so store_upload refuses it (and a form or view sees the size)."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.limit, self.received = settings.VIO_OVA_MAX_BYTES, 0

    def receive_data_chunk(self, raw_data, start):
        room = self.limit - self.received
        self.received += len(raw_data)
        if room > 0:
            self.file.write(raw_data[:room])

    def file_complete(self, file_size):
        uploaded = super().file_complete(file_size)
        uploaded.truncated = file_size > self.limit
        return uploaded


def too_large(filename: str, size: int | None = None) -> ServiceError:
    from inventory.clients.download import size_text

    given = f" ({size_text(size)})" if size else ""
    return ServiceError(f"{filename} is larger{given} than {size_text(settings.VIO_OVA_MAX_BYTES)}, the most "
                        "VIO Manager accepts for an appliance OVA (VIO_OVA_MAX_BYTES).", code="too_large", field="file")


def _chunks(source):
    if hasattr(source, "chunks"):  # Django's UploadedFile: memory or a temporary file, read in pieces
        yield from source.chunks(CHUNK_SIZE)
        return
    while chunk := source.read(CHUNK_SIZE):
        yield chunk


def check_ova(path: Path, filename: str) -> None:
    """An OVA is a tar archive whose first member is the .ovf descriptor (and whose manifest, if any,
    matches the descriptor). ServiceError(code="not_an_ova") otherwise."""
    from inventory.clients.vsphere_ova import OvaFormatError, read_ova

    def refuse(reason: str):
        return ServiceError(f"{filename} is not an OVA: {reason}", code="not_an_ova", field="file")

    try:
        with tarfile.open(path, "r:") as archive:
            first = archive.next()
    except (tarfile.TarError, OSError):
        raise refuse("it is not a tar archive. Give the .ova file itself (not an .ovf, a zip or a disk).") from None
    if first is None or not first.isfile() or not first.name.endswith(".ovf"):
        found = f" (it starts with {first.name})" if first is not None else " (it is empty)"
        raise refuse(f"its first file must be the .ovf descriptor{found}.")
    try:
        read_ova(path)
    except OvaFormatError as exc:
        raise ServiceError(str(exc).replace(str(path), filename), code="not_an_ova", field="file") from None


def store_upload(source, filename: str, *, user=None) -> tuple[ApplianceUpload, bool]:
    """Store an uploaded OVA; (the upload, True) when new, (the existing one, False) when a file with the
    same SHA-256 is already stored. The file is never held in memory as a whole."""
    filename = Path(filename or "appliance.ova").name[:255]
    limit = settings.VIO_OVA_MAX_BYTES
    announced = getattr(source, "size", None)
    if getattr(source, "truncated", False) or (isinstance(announced, int) and announced > limit):
        raise too_large(filename, announced)
    directory = uploads_directory()
    directory.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    handle = tempfile.NamedTemporaryFile(dir=directory, prefix=".upload-", suffix=".part", delete=False)
    partial = Path(handle.name)
    try:
        with handle:
            for chunk in _chunks(source):
                size += len(chunk)
                if size > limit:
                    raise too_large(filename)
                digest.update(chunk)
                handle.write(chunk)
        if size == 0:
            raise ServiceError(f"{filename} is empty.", code="empty_file", field="file")
        check_ova(partial, filename)
        sha256 = digest.hexdigest()
        existing = ApplianceUpload.objects.filter(sha256=sha256).first()
        if existing is None:
            try:
                with transaction.atomic():
                    os.replace(partial, directory / f"{sha256}.ova")
                    return ApplianceUpload.objects.create(filename=filename, size=size, sha256=sha256,
                                                          uploaded_by=user), True
            except IntegrityError:  # the same file, uploaded by another request at the same moment
                existing = ApplianceUpload.objects.get(sha256=sha256)
        if not existing.path.exists() and partial.exists():
            os.replace(partial, existing.path)  # the stored copy was lost: this one is identical
        return existing, False
    finally:
        partial.unlink(missing_ok=True)


def find(upload_id) -> ApplianceUpload | None:
    try:
        return ApplianceUpload.objects.filter(pk=uuid.UUID(str(upload_id))).first()
    except ValueError:
        return None


def active_users(upload: ApplianceUpload) -> list[str]:
    """Names of the active deployments whose spec uses this upload."""
    return list(Deployment.objects.filter(status__in=ACTIVE, spec__appliance_ova__upload=str(upload.pk))
                .order_by("name").values_list("name", flat=True))


def delete_upload(upload: ApplianceUpload) -> None:
    users = active_users(upload)
    if users:
        raise ServiceError(f"Deployment {', '.join(users)} is using this OVA; wait until it ends or cancel it first.",
                           code="in_use")
    path = upload.path
    upload.delete()
    path.unlink(missing_ok=True)


def upload_issues(appliance_ova, path: str = "appliance_ova.upload") -> list[Issue]:
    """The spec's upload id must name an upload whose file is still here."""
    if appliance_ova is None or not appliance_ova.upload:
        return []
    upload = find(appliance_ova.upload)
    if upload is None:
        return [Issue(path, "unknown_upload", f"There is no uploaded OVA with id {appliance_ova.upload}; upload the "
                                              "file again or give its URL.")]
    if not upload.path.exists():
        return [Issue(path, "upload_file_missing", f"The file of the uploaded OVA {upload.filename} is gone from the "
                                                   "appliance's disk; upload it again.")]
    return []
