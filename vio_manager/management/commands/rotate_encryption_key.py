from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from vio_manager.crypto import EncryptedTextField


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key of VIO_FIELD_ENCRYPTION_KEYS. "
        "Put the new key first, run this, then remove the old key."
    )

    def handle(self, *args, **options):
        total = 0
        with transaction.atomic():
            for model in apps.get_models():
                fields = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
                if not fields:
                    continue
                # Loading decrypts with whichever key matches; saving encrypts with the first key.
                for obj in model._base_manager.select_for_update().only("pk", *fields):
                    obj.save(update_fields=fields)
                    total += 1
        self.stdout.write(f"Re-encrypted the secrets of {total} row(s).")
