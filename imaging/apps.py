from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ImagingConfig(AppConfig):
    name = "imaging"
    verbose_name = "Imaging"

    def ready(self) -> None:
        from cases import extensions
        from cases.signals import archive_changed_on_save_and_delete
        from imaging import cleanup
        from imaging.case_images import image_tree_prefetch, key_images_attach
        from imaging.jobs import cache_table_create
        from imaging.models import Annotation, Image, Series, Study, Upload

        cleanup.connect()
        extensions.detail_prefetches.append(image_tree_prefetch)
        extensions.card_completions.append(key_images_attach)
        # A case's page shows its studies, series, images and arrows. Ingest writes images in bulk (no
        # signal per row), then records the run as an Upload: its save says a series has new images.
        archive_changed_on_save_and_delete(Study, Series, Image, Upload, Annotation)
        # The shared cache's table, made with the schema (the worker and web processes share it).
        post_migrate.connect(cache_table_create, sender=self, dispatch_uid="imaging-cache-table")
