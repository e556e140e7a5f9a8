"""Writes of the programme app: keyword-only, typed, atomic."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.models import Case
from programme.models import Assignment, CaseCompletion, Playlist, PlaylistItem, new_playlist_slug


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
