"""Writes of the programme app: keyword-only, typed, atomic."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.models import Case
from programme.models import (
    Assignment,
    CaseCompletion,
    Conference,
    ConferenceAnswer,
    Playlist,
    PlaylistItem,
    Step,
    new_conference_code,
    new_playlist_slug,
)


@transaction.atomic
def playlist_create(
    *, title: str, owner, visibility: str = Playlist.Visibility.PRIVATE, introduction: str = ""
):
    """A new playlist with an unguessable address (``new_playlist_slug``)."""
    playlist = Playlist(title=title, owner=owner, visibility=visibility, introduction=introduction)
    playlist_assign_slug(playlist=playlist)
    playlist.save()
    return playlist


def playlist_assign_slug(*, playlist: Playlist) -> None:
    """Give an unsaved playlist its address once; it never changes, so links given out keep working."""
    if not playlist.slug:
        playlist.slug = new_playlist_slug(playlist.title)
        while Playlist.objects.filter(slug=playlist.slug).exists():
            playlist.slug = new_playlist_slug(playlist.title)


@transaction.atomic
def playlist_add_case(*, playlist: Playlist, case: Case, note: str = "") -> PlaylistItem:
    """Add a published case at the end of the playlist."""
    if case.status != Case.Status.PUBLISHED:
        raise ValueError("Only published cases can be added to a playlist.")
    last = playlist.items.order_by("-order").values_list("order", flat=True).first() or 0
    return PlaylistItem.objects.create(playlist=playlist, case=case, note=note, order=last + 1)


@transaction.atomic
def playlist_renumber(*, playlist: Playlist) -> None:
    """Positions 1, 2, 3… in the current order, so that order numbers typed later have room around them."""
    for position, item in enumerate(playlist.items.order_by("order", "pk"), start=1):
        if item.order != position:
            PlaylistItem.objects.filter(pk=item.pk).update(order=position)


@transaction.atomic
def case_mark_done(*, assignment: Assignment, resident, case: Case, attempt=None) -> CaseCompletion:
    """Record that the resident has done this case of the assignment; doing it again changes nothing.

    Called for a study assignment when the resident marks the case done, and for a quiz assignment by
    the receiver of a recorded quiz attempt (``programme.receivers``).
    """
    existing = CaseCompletion.objects.filter(assignment=assignment, resident=resident, case=case).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return CaseCompletion.objects.create(
                assignment=assignment,
                resident=resident,
                case=case,
                attempt=attempt,
                completed_at=timezone.now(),
            )
    except IntegrityError:  # the same case marked done twice at once: the first one stands
        return CaseCompletion.objects.get(assignment=assignment, resident=resident, case=case)


@transaction.atomic
def completions_from_attempt(*, attempt) -> list[CaseCompletion]:
    """A quiz attempt completes the case in every opened quiz assignment of the resident that holds it."""
    assignments = (
        Assignment.objects.for_resident(attempt.user)
        .filter(mode=Assignment.Mode.QUIZ, playlist__items__case_id=attempt.case_id)
        .distinct()
    )
    return [
        case_mark_done(assignment=assignment, resident=attempt.user, case=attempt.case, attempt=attempt)
        for assignment in assignments
    ]


@transaction.atomic
def conference_create(*, playlist: Playlist, presenter, allow_anonymous: bool = False) -> Conference:
    """A conference over the playlist's published cases, in its order, with a short join code."""
    case_ids = list(
        playlist.items.filter(case__status=Case.Status.PUBLISHED)
        .order_by("order", "pk")
        .values_list("case_id", flat=True)
    )
    code = new_conference_code()
    while Conference.objects.filter(code=code).exists():
        code = new_conference_code()
    return Conference.objects.create(
        playlist=playlist, presenter=presenter, case_ids=case_ids, code=code, allow_anonymous=allow_anonymous
    )


@transaction.atomic
def conference_move(*, conference: Conference, forward: bool = True) -> Conference:
    """Open the next step (after the diagnosis: the next case's history), or go back one step. Opening a
    diagnosis records its case as revealed (``Conference.revealed_case_ids``): its answers close for good.

    The row is locked, so two clicks of the presenter at once move two steps, never one twice.
    """
    conference = Conference.objects.select_for_update().get(pk=conference.pk)
    position, step = conference.position, conference.step
    if forward:
        if step < Step.DIAGNOSIS:
            step += 1
        elif position + 1 < len(conference.case_ids):
            position, step = position + 1, Step.HISTORY
    elif step > Step.HISTORY:
        step -= 1
    elif position > 0:
        position, step = position - 1, Step.DIAGNOSIS  # back to a case already revealed
    if (position, step) != (conference.position, conference.step):
        conference.position, conference.step = position, step
        if step == Step.DIAGNOSIS and conference.case_id not in conference.revealed_case_ids:
            conference.revealed_case_ids = [*conference.revealed_case_ids, conference.case_id]
        conference.version += 1
        conference.save(update_fields=["position", "step", "revealed_case_ids", "version"])
    return conference


@transaction.atomic
def conference_settings(*, conference: Conference, allow_anonymous: bool, end: bool = False) -> Conference:
    conference = Conference.objects.select_for_update().get(pk=conference.pk)
    conference.allow_anonymous = allow_anonymous
    if end and conference.ended_at is None:
        conference.ended_at = timezone.now()
    conference.version += 1
    conference.save(update_fields=["allow_anonymous", "ended_at", "version"])
    return conference


@transaction.atomic
def conference_answer(*, conference: Conference, participant: str, answer: str) -> ConferenceAnswer | None:
    """The participant's answer for the current case, until its diagnosis is first shown (it may be changed
    until then); None when answers are closed, which they stay even if the presenter steps back."""
    conference = Conference.objects.select_for_update().get(pk=conference.pk)
    if conference.ended or conference.case_revealed or conference.case_id is None:
        return None
    found, _ = ConferenceAnswer.objects.update_or_create(
        conference=conference,
        case_id=conference.case_id,
        participant=participant,
        defaults={"answer": answer.strip(), "created_at": timezone.now()},
    )
    return found
