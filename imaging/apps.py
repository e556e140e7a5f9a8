from django.apps import AppConfig


class ImagingConfig(AppConfig):
    name = "imaging"
    verbose_name = "Imaging"

    def ready(self) -> None:
        from cases import extensions
        from imaging import cleanup
        from imaging.case_images import image_tree_prefetch

        cleanup.connect()
        extensions.detail_prefetches.append(image_tree_prefetch)
