"""The case-list filters, their combinations and the facet counts beside them."""

import re

import pytest

from cases.models import Case
from tests.helpers.search import facet_count

pytestmark = pytest.mark.django_db


def listed(client, query: str) -> set[str]:
    html = client.get(f"/cases/?{query}").content.decode()
    results = html[html.index('class="results"') :]
    return set(re.findall(r'<h3><a href="/cases/([^/]+)/">', results))


@pytest.fixture
def archive(make_case, region_tree, diagnosis):
    chordoma, emh = diagnosis("Chordoma"), diagnosis("Extramedullary haematopoiesis", slug="emh")
    return {
        "sacral": make_case(
            slug="sacral",
            age=47,
            sex="F",
            findings=["CR", "MR"],
            final_diagnosis=chordoma,
            regions=[region_tree["sacrum"]],
            tags=["bone"],
        ),
        "lumbar": make_case(
            slug="lumbar",
            age=29,
            sex="M",
            findings=["DX", "CT"],
            final_diagnosis=emh,
            regions=[region_tree["lumbar"]],
            tags=["marrow", "bone"],
        ),
        "chest": make_case(
            slug="chest",
            age=70,
            sex="M",
            findings=["CT"],
            final_diagnosis=emh,
            regions=[region_tree["chest"]],
            tags=["marrow"],
        ),
        "unknown": make_case(slug="unknown", findings=["MR"], regions=[region_tree["spine"]]),
    }


def test_no_filter_lists_every_published_case(client, archive):
    assert listed(client, "") == {"sacral", "lumbar", "chest", "unknown"}


def test_region_filter_includes_sub_regions(client, archive):
    assert listed(client, "region=spine") == {"sacral", "lumbar", "unknown"}
    assert listed(client, "region=sacrum") == {"sacral"}
    assert listed(client, "region=no-such-region") == set()


def test_diagnosis_filter(client, archive):
    assert listed(client, "diagnosis=emh") == {"lumbar", "chest"}


def test_modality_filter_treats_cr_and_dx_as_radiograph_and_ignores_case(client, archive):
    assert listed(client, "modality=CR") == {"sacral", "lumbar"}
    assert listed(client, "modality=DX") == {"sacral", "lumbar"}
    assert listed(client, "modality=ct") == {"lumbar", "chest"}
    assert listed(client, "modality=NM") == set()


def test_tag_filter(client, archive):
    assert listed(client, "tag=marrow") == {"lumbar", "chest"}


def test_sex_and_age_filters(client, archive):
    assert listed(client, "sex=M") == {"lumbar", "chest"}
    assert listed(client, "age_min=30") == {"sacral", "chest"}
    assert listed(client, "age_max=50") == {"sacral", "lumbar"}
    assert listed(client, "age_min=20&age_max=50") == {"sacral", "lumbar"}


def test_filters_combine(client, archive):
    assert listed(client, "region=spine&modality=CT") == {"lumbar"}
    assert listed(client, "diagnosis=emh&tag=bone&sex=M") == {"lumbar"}
    assert listed(client, "tag=marrow&age_min=50&modality=CT") == {"chest"}
    assert listed(client, "region=sacrum&diagnosis=emh") == set()


def test_invalid_filters_are_reported_and_not_applied(client, archive):
    response = client.get("/cases/?age_min=abc&sex=F&modality=XYZ")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Some filters were not applied" in html
    assert "Enter a whole number." in html
    assert listed(client, "age_min=abc&sex=F&modality=XYZ") == {"sacral"}


def test_reversed_age_range_is_reported(client, archive):
    html = client.get("/cases/?age_min=60&age_max=20").content.decode()
    assert "must not be below" in html


def test_facet_counts_describe_the_matching_set(client, archive):
    html = client.get("/cases/?tag=marrow").content.decode()

    assert facet_count(html, "Spine") == 1  # lumbar, via its sub-region
    assert facet_count(html, "Chest") == 1
    assert facet_count(html, "CT") == 2
    assert facet_count(html, "Radiograph") == 1
    assert facet_count(html, "Extramedullary haematopoiesis") == 2
    assert facet_count(html, "bone") == 1
    assert "Chordoma" not in html[html.index('class="filters"') : html.index('class="results"')]


def test_facet_links_toggle_their_filter_and_keep_the_others(client, archive):
    html = client.get("/cases/?tag=marrow&page=1").content.decode()
    assert 'href="?tag=marrow&amp;modality=CT"' in html
    html = client.get("/cases/?tag=marrow&modality=CT").content.decode()
    assert 'href="?tag=marrow"' in html  # the active modality links to its own removal


def test_pagination(client, make_case, settings):
    for n in range(25):
        make_case(slug=f"many-{n:02d}")
    page_one, page_two = listed(client, ""), listed(client, "page=2")
    assert len(page_one) == 20 and len(page_two) == 5
    assert not page_one & page_two
    assert "Page 1 of 2" in client.get("/cases/").content.decode()


def test_drafts_are_not_listed_or_counted_for_anonymous_users(client, archive, make_case):
    make_case(slug="draft", status=Case.Status.DRAFT, findings=["CT"])
    assert "draft" not in listed(client, "")
    assert "4 cases." in client.get("/cases/").content.decode()


def test_sex_facet_counts(client, archive):
    html = client.get("/cases/?region=spine").content.decode()
    facets = html[html.index('class="filters"') : html.index('class="results"')]
    assert re.search(r'href="\?region=spine&amp;sex=M">Male <span class="count">1</span>', facets)
    assert re.search(r'href="\?region=spine&amp;sex=F">Female <span class="count">1</span>', facets)
