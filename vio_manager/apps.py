from django.apps import AppConfig


class VioManagerConfig(AppConfig):
    name = "vio_manager"
    verbose_name = "VIO Manager"
