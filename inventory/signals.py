"""Model signals of the inventory, connected in InventoryConfig.ready() (models stay free of services)."""

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from inventory.models import VCenter
from inventory.services.extension import remove


@receiver(pre_delete, sender=VCenter)
def unregister_extension(sender, instance, **kwargs):
    """A vCenter being removed (page, API or shell): take the appliance's registration out of it."""
    remove(instance)
