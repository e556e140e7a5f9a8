"""A broad search: more matches than ``SEARCH_RANKED_MATCHES`` ranks and counts only the most recently
published of them, and the page says so; a narrower one stays exact. Runs on SQLite and PostgreSQL."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Case
from tests.helpers.accounts import make_user
from tests.helpers.search import add_finding, facet_count, found
from tests.helpers.settings import run_settings

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


def test_a_broad_search_lists_the_newest_matches_and_says_so(client, broad):
    html = client.get("/cases/?q=expansile").content.decode()

    assert "More than 3 cases match “expansile”" in html
    assert "the 3 most recent are shown, best match first." in html
    assert "Add a word or a filter to rank every match." in html
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


def add_drafts(make_case, author, count: int) -> None:
    """Drafts dated after every published case (a case taken back to draft keeps its publication date)."""
    for n in range(count):
        draft = make_case(
            slug=f"draft-{author.username}-{n}",
            status=Case.Status.DRAFT,
            author=author,
            published_at=timezone.now() + timedelta(days=1),
            findings=[],
        )
        add_finding(draft, "Expansile draft.")


def test_another_author_s_drafts_never_take_a_place_among_the_newest(client, broad, make_case, faculty):
    add_drafts(make_case, make_user("other-author", "faculty"), LIMIT)
    client.force_login(faculty)

    assert set(found(client, "expansile")) == {"newest", "second", "third"}
    assert "draft" not in client.get("/cases/?q=expansile").content.decode()


def test_an_author_finds_their_own_draft_in_a_broad_search(client, broad, make_case, faculty):
    undated = make_case(slug="own-undated", status=Case.Status.DRAFT, author=faculty, findings=[])
    add_finding(undated, "Expansile, never published.")
    client.force_login(faculty)

    listed = found(client, "expansile")

    assert "own-undated" in listed  # a draft never published counts as the newest, on every database
    assert len(listed) == LIMIT


def test_the_limit_comes_from_the_environment_and_a_wrong_one_stops_the_start():
    code = "print(settings.SEARCH_RANKED_MATCHES)"
    assert run_settings({}, code).stdout.strip() == "500"
    assert run_settings({"SEARCH_RANKED_MATCHES": "2000"}, code).stdout.strip() == "2000"
    for wrong in ["many", "0", "-5", "20000"]:
        result = run_settings({"SEARCH_RANKED_MATCHES": wrong}, code)
        assert result.returncode != 0 and "SEARCH_RANKED_MATCHES must be a whole number" in result.stderr


def test_facets_cached_for_a_broad_search_never_serve_an_exact_one(client, broad, settings):
    client.get("/cases/?q=expansile")  # broad: its facets, counted among the newest 3, are cached
    settings.SEARCH_RANKED_MATCHES = 10

    html = client.get("/cases/?q=expansile").content.decode()

    assert "5 cases match “expansile”, best match first" in html
    assert facet_count(html, "Spine") == 3
