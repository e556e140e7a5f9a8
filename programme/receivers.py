"""Receivers connected in ``ProgrammeConfig.ready``: they pass the news on to a service, nothing more."""

from django.db import transaction


def quiz_attempt_saved(sender, instance, created, raw=False, **kwargs):
    """A logged-in resident's answer recorded by the quiz completes the case in their quiz assignments.

    The quiz knows nothing of assignments; this receiver listens to its attempts being saved. After the
    commit, so that a failure here can never undo the resident's recorded answer.
    """
    if created and not raw:
        from programme.services import completions_from_attempt

        transaction.on_commit(lambda: completions_from_attempt(attempt=instance))
