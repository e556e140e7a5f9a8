"""A programme to try locally: a director log-in, a playlist of the published seed cases, a cohort with
the demo resident, and a quiz assignment due in five days. For ``load_programme_demo`` only."""

import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from cases.models import Case
from programme import services
from programme.models import DIRECTOR_GROUP, Assignment, Cohort, Playlist

DIRECTOR = ("director", "demo-director-pass")
PLAYLIST_TITLE = "Spine unknowns (demo)"
COHORT_NAME = "Demo cohort"
DUE_IN_DAYS = 5


@transaction.atomic
def programme_demo_ensure() -> list[str]:
    """Create what is missing; what exists (the director's password included) is left alone."""
    done = []
    User = get_user_model()
    director, created = User.objects.get_or_create(username=DIRECTOR[0], defaults={"is_staff": True})
    if created:
        director.set_password(DIRECTOR[1])
        director.save(update_fields=["password"])
        director.groups.add(Group.objects.get(name=DIRECTOR_GROUP))
        done.append(f"director log-in: {DIRECTOR[0]} / {DIRECTOR[1]}")
    playlist = Playlist.objects.filter(title=PLAYLIST_TITLE).first()
    if playlist is None:
        owner = User.objects.filter(username="faculty").first() or director
        playlist = services.playlist_create(
            title=PLAYLIST_TITLE,
            owner=owner,
            visibility=Playlist.Visibility.PUBLIC,
            introduction="The seed cases, as unknowns: take them as a quiz before you read them.",
        )
        for case in Case.objects.published().order_by("pk"):
            services.playlist_add_case(playlist=playlist, case=case)
        done.append(f"playlist: {playlist.get_absolute_url()}")
    cohort, created = Cohort.objects.get_or_create(name=COHORT_NAME)
    if created:
        cohort.residents.add(*User.objects.filter(username="resident"))
        today = timezone.localdate()
        Assignment.objects.create(
            playlist=playlist,
            cohort=cohort,
            mode=Assignment.Mode.QUIZ,
            opens_on=today,
            due_on=today + datetime.timedelta(days=DUE_IN_DAYS),
            created_by=director,
        )
        done.append(f"cohort {COHORT_NAME} with a quiz assignment due in {DUE_IN_DAYS} days")
    return done
