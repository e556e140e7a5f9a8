"""Atom feeds: newly published cases, and the case of the week.

Entries are titled by neutral headings (``weekly.presentation``), never by the case's title or
diagnosis, and link to the case's quiz page, never to its revealed page: a reader can test themselves
from the feed. The summary is the clinical history, which the quiz shows before the reveal. Entry ids
are tag URIs (RFC 4151) that outlive a slug's edit: a case's id names its row, a week's id its Monday,
so a week whose case an editor replaces keeps its entry, with a new ``updated``.
"""

import datetime
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.contrib.syndication.views import Feed
from django.db.models import Prefetch
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.feedgenerator import Atom1Feed

from cases.markdown import render_markdown
from cases.models import Case, Finding
from weekly.presentation import neutral_heading
from weekly.schedule import shown_slots

FEED_LENGTH = 20
ARCHIVE_NAME = "Radiology teaching archive"


@dataclass(frozen=True)
class Entry:
    id: str
    title: str
    summary: str
    link: str
    published: datetime.datetime
    updated: datetime.datetime


class EntryFeed(Feed):
    """A feed whose ``items`` are ``Entry`` rows, built with the request's host (for the tag URIs)."""

    feed_type = Atom1Feed
    author_name = ARCHIVE_NAME

    def get_object(self, request, *args, **kwargs):
        # The tag URIs' authority; ALLOWED_HOSTS has vetted the host by now.
        return urlsplit(request.build_absolute_uri()).hostname

    def item_title(self, item: Entry) -> str:
        return item.title

    def item_description(self, item: Entry) -> str:
        return item.summary

    def item_link(self, item: Entry) -> str:
        return item.link

    def item_guid(self, item: Entry) -> str:
        return item.id

    def item_pubdate(self, item: Entry) -> datetime.datetime:
        return item.published

    def item_updateddate(self, item: Entry) -> datetime.datetime:
        return item.updated


def case_quiz_link(case: Case) -> str:
    return reverse("case_quiz", args=[case.slug])


class NewCasesFeed(EntryFeed):
    title = f"New cases · {ARCHIVE_NAME}"
    subtitle = "Cases as they are published, named by age, sex and modality; each links to its quiz."

    def link(self):
        return reverse("case_list")

    def items(self, authority: str) -> list[Entry]:
        cases = (
            Case.objects.published()
            .order_by("-published_at", "-pk")
            .only("slug", "age", "sex", "clinical_history", "created_at", "published_at")
            .prefetch_related(
                Prefetch("findings", queryset=Finding.objects.only("case_id", "modality", "order")),
            )[:FEED_LENGTH]
        )
        return [
            Entry(
                id=f"tag:{authority},{case.created_at:%Y-%m-%d}:case/{case.pk}",
                title=f"New case: {neutral_heading(case)}",
                summary=render_markdown(case.clinical_history),
                link=case_quiz_link(case),
                published=case.published_at,
                updated=case.published_at,
            )
            for case in cases
        ]


class CaseOfTheWeekFeed(EntryFeed):
    title = f"Case of the week · {ARCHIVE_NAME}"
    subtitle = "A case to test yourself on each week; each entry links to its quiz."

    def link(self):
        return reverse("case_of_the_week")

    def items(self, authority: str) -> list[Entry]:
        entries = []
        for slot in shown_slots()[:FEED_LENGTH]:
            begins = timezone.make_aware(datetime.datetime.combine(slot.week_start, datetime.time()))
            entries.append(
                Entry(
                    id=f"tag:{authority},{slot.week_start:%Y-%m-%d}:case-of-the-week",
                    title=f"Case of the week from {date_format(slot.week_start, 'j F Y')}: "
                    f"{neutral_heading(slot.case)}",
                    summary=render_markdown(slot.case.clinical_history),
                    link=case_quiz_link(slot.case),
                    published=begins,
                    updated=max(begins, slot.updated_at),
                )
            )
        return entries
