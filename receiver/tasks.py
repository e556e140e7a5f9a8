"""The receiver's background work: each task calls a service that tests call directly."""

from django_tasks import task

from receiver import services


@task()
def received_study_gate_task(study_id: int) -> dict:
    """Pass a received study through the image gate (:func:`receiver.services.received_study_gate`)."""
    study = services.received_study_gate(study_id=study_id)
    return study.deidentification_summary


@task()
def purge_received_task() -> int:
    """Purge received studies past ``RECEIVED_STUDY_DAYS`` (:func:`receiver.services.received_purge`)."""
    return services.received_purge()
