"""Studies that have been quiet for ``--stable-seconds`` go to the task queue, each once."""

from datetime import timedelta

from django.utils import timezone

from receiver.models import ReceivedStudy
from receiver.tasks import received_study_gate_task


def studies_hand_over(*, stable_seconds: float, now=None) -> int:
    """Enqueue the gate for every study no instance of which arrived in the last `stable_seconds`.

    Each study is claimed by a conditional update (receiving → processing) before it is enqueued, so
    two receivers, or a hand-over racing an instance that has just arrived, never enqueue it twice
    (an instance arriving after the claim starts a new study: :func:`receiver.spooling.instance_spool`).
    Returns how many studies were handed over.
    """
    cutoff = (now or timezone.now()) - timedelta(seconds=stable_seconds)
    due = ReceivedStudy.objects.filter(status=ReceivedStudy.Status.RECEIVING, last_received_at__lte=cutoff)
    handed = 0
    for pk in list(due.values_list("pk", flat=True)):
        # The heartbeat dates the wait: a study whose enqueue was lost is enqueued again by a worker's sweep.
        claimed = due.filter(pk=pk).update(
            status=ReceivedStudy.Status.PROCESSING, heartbeat_at=timezone.now()
        )
        if claimed:
            received_study_gate_task.enqueue(pk)
            handed += 1
    return handed
