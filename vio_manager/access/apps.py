from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "vio_manager.access"
    label = "access"
    verbose_name = "Access: roles, API tokens, audit log"

    def ready(self):
        from vio_manager.access import schema, signals  # noqa: F401 -- receivers and the OpenAPI extension
