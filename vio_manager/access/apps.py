from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "vio_manager.access"
    label = "access"
    verbose_name = "Access: roles, API tokens, audit log"

    def ready(self):
        # receivers (the audit log's; the token cache's, in tokens) and the OpenAPI extension
        from vio_manager.access import schema, signals, tokens  # noqa: F401
