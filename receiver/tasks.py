"""The receiver's background work: each task calls a service that tests call directly."""

from django_tasks import task

from receiver import services


@task()
def received_study_gate_task(study_id: int) -> dict:
    """Pass a received study through the image gate (:func:`receiver.services.received_study_gate`)."""
    study = services.received_study_gate(study_id=study_id)
    return study.deidentification_summary


def purge_on_worker_sweep(sender, **kwargs) -> None:
    """Every task worker's sweep (``imaging.jobs.worker_sweep``: at start and every UPLOAD_SWEEP_SECONDS)
    purges received studies past ``RECEIVED_STUDY_DAYS``: the task framework has no scheduler of its own."""
    services.received_purge()


@task()
def dicomweb_pull_task(source_id: int, user_id: int, study_uid: str = "", accession: str = "") -> int:
    """Pull a study over DICOMweb into the user's inbox (:func:`receiver.pulling.dicomweb_pull`)."""
    from django.contrib.auth import get_user_model

    # Here, not at the top: receiver.pulling enqueues this module's gate task.
    from receiver.models import DicomWebSource
    from receiver.pulling import dicomweb_pull

    study = dicomweb_pull(
        source=DicomWebSource.objects.get(pk=source_id),
        by=get_user_model().objects.get(pk=user_id),
        study_uid=study_uid,
        accession=accession,
    )
    return study.pk
