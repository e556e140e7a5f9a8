"""A broad search: more matches than ``SEARCH_RANKED_MATCHES`` ranks and counts only the most recently
published of them, and the page says so; a narrower one stays exact. Runs on SQLite and PostgreSQL."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Case
from tests.helpers.accounts import make_user
from tests.helpers.search import add_finding, found

pytestmark = pytest.mark.django_db

LIMIT = 3


@pytest.fixture
def limited(settings):
    settings.SEARCH_RANKED_MATCHES = LIMIT


@pytest.fixture
def broad(make_case, region_tree, limited):
    """Five published cases mention "expansile", one a day older than the next; the oldest has the word in its
    title (the best match of all); the others in their findings only."""
    now = timezone.now()
    regions = ["chest", "spine", "spine", "chest", "spine"]
    cases = {}
    for age, slug in enumerate(["newest", "second", "third", "fourth", "oldest"]):
        title = "Expansile lesion" if slug == "oldest" else f"Case {slug}"
        case = make_case(
            slug=slug,
            title=title,
            published_at=now - timedelta(days=age),
            regions=[region_tree[regions[age]]],
            findings=[],
        )
        add_finding(case, "An expansile mass.")
        cases[slug] = case
    make_case(slug="unrelated", regions=[region_tree["spine"]])
    return cases


def facet_count(html: str, label: str) -> int | None:
    facets = html[html.index('class="filters"') : html.index('class="results"')]
    match = re.search(rf">{re.escape(label)} <span class=\"count\">(\d+)</span>", facets)
    return int(match.group(1)) if match else None


def test_a_broad_search_lists_the_newest_matches_and_says_so(client, broad):
    html = client.get("/cases/?q=expansile").content.decode()

    assert "More than 3 cases match “expansile”" in html
    assert "the 3 most recently published are shown" in html
    assert "Counts among the 3 most recent matches." in html
    assert set(found(client, "expansile")) == {"newest", "second", "third"}


def test_a_broad_search_counts_facets_among_the_newest_matches(client, broad):
    html = client.get("/cases/?q=expansile").content.decode()

    assert facet_count(html, "Chest") == 1  # "newest"; "fourth" is beyond the newest 3
    assert facet_count(html, "Spine") == 2  # "second" and "third"; "oldest" is beyond them too


def test_the_newest_matches_are_ranked_best_match_first(client, broad, make_case, region_tree):
    Case.objects.filter(slug="oldest").update(published_at=timezone.now() + timedelta(hours=1))

    listed = found(client, "expansile")

    assert listed[0] == "oldest"  # the title match, now among the newest three, ranks first
    assert len(listed) == LIMIT


def test_a_filter_that_narrows_the_matches_makes_the_search_exact_again(client, broad):
    html = client.get("/cases/?q=expansile&region=spine").content.decode()

    assert "3 cases match “expansile” and the filters, best match first" in html
    assert "More than" not in html
    assert "Counts among" not in html
    listed = found(client, "expansile", region="spine")
    assert listed[0] == "oldest"  # the title match, older than the others, is ranked again
    assert sorted(listed[1:]) == ["second", "third"]


def test_no_more_matches_than_the_limit_is_an_exact_search(client, broad):
    Case.objects.filter(slug__in=["fourth", "oldest"]).update(status=Case.Status.DRAFT, published_at=None)

    html = client.get("/cases/?q=expansile").content.decode()

    assert "3 cases match “expansile”, best match first" in html
    assert "More than" not in html
    assert facet_count(html, "Spine") == 2


def test_the_pages_of_a_broad_search_end_with_its_newest_matches(client, broad, settings):
    settings.CASES_PER_PAGE = 2

    first = client.get("/cases/?q=expansile").content.decode()
    second = client.get("/cases/?q=expansile&page=2").content.decode()

    listed = re.findall(r'<h3><a href="/cases/([^/]+)/">', first[first.index('class="results"') :])
    listed += re.findall(r'<h3><a href="/cases/([^/]+)/">', second[second.index('class="results"') :])
    assert sorted(listed) == ["newest", "second", "third"]
    assert 'page=3"' not in second


def test_another_author_s_drafts_never_take_a_place_among_the_newest(client, broad, make_case, faculty):
    other = make_user("other-author", "faculty")
    for n in range(LIMIT):
        draft = make_case(slug=f"draft-{n}", status=Case.Status.DRAFT, author=other, findings=[])
        add_finding(draft, "Expansile draft.")
    client.force_login(faculty)

    assert set(found(client, "expansile")) == {"newest", "second", "third"}
