from django.apps import AppConfig


class ReceiverConfig(AppConfig):
    name = "receiver"
    verbose_name = "DICOM receiver"

    def ready(self) -> None:
        from imaging.jobs import worker_sweep
        from receiver.tasks import purge_on_worker_sweep

        worker_sweep.connect(purge_on_worker_sweep, dispatch_uid="receiver-purge")
