"""Studies that have been quiet for ``--stable-seconds`` go to the task queue, each once."""

from datetime import timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from receiver.contexts import KEY_OBJECT_SELECTION
from receiver.models import ReceivedInstance, ReceivedStudy
from receiver.tasks import received_study_gate_task

Status = ReceivedStudy.Status


def studies_hand_over(*, stable_seconds: float, now=None) -> int:
    """Enqueue the gate for every study no instance of which arrived in the last `stable_seconds`.

    Each study is claimed by a conditional update (receiving → processing) before it is enqueued, so
    two receivers, or a hand-over racing an instance that has just arrived, never enqueue it twice
    (an instance arriving after the claim starts a new study: :func:`receiver.spooling.instance_spool`).
    A study of key object selections alone waits while the study of its images (same sender and original
    Study Instance UID) is still on its way through the gate: it marks their key images once they have
    passed (:func:`receiver.services.received_study_gate`). Returns how many studies were handed over.
    """
    cutoff = (now or timezone.now()) - timedelta(seconds=stable_seconds)
    images_being_gated = ReceivedStudy.objects.filter(
        arrival_key=OuterRef("arrival_key"), status__in=[Status.PROCESSING, Status.GATING]
    )
    images = ReceivedInstance.objects.filter(study=OuterRef("pk")).exclude(sop_class_uid=KEY_OBJECT_SELECTION)
    due = ReceivedStudy.objects.filter(status=Status.RECEIVING, last_received_at__lte=cutoff).exclude(
        Exists(images_being_gated) & ~Exists(images)
    )
    handed = 0
    for pk in list(due.values_list("pk", flat=True)):
        # The heartbeat dates the wait: a study whose enqueue was lost is enqueued again by a worker's sweep.
        claimed = due.filter(pk=pk).update(status=Status.PROCESSING, heartbeat_at=timezone.now())
        if claimed:
            received_study_gate_task.enqueue(pk)
            handed += 1
    return handed
