"""A diagnosis is public only through a case the user may see: the A to Z (/diagnoses/), the home
page's diagnoses and a diagnosis's own page show one only if such a case names it (as its final
diagnosis or in its differential); otherwise the page answers 404, as a hidden case's does."""

import pytest
from django.utils import timezone

from cases.models import Case
from tests.helpers.accounts import make_user

pytestmark = pytest.mark.django_db

DRAFT, REVIEW, PUBLISHED = Case.Status.DRAFT, Case.Status.IN_REVIEW, Case.Status.PUBLISHED


@pytest.fixture
def archive(make_case, diagnosis, faculty):
    names = {
        "final": diagnosis("Chordoma"),
        "differential": diagnosis("Schwannoma"),  # only in a published case's differential
        "draft": diagnosis("Xanthogranuloma of bone"),  # created for a draft
        "review": diagnosis("Clear cell chondrosarcoma"),  # named only by a case in review
        "unused": diagnosis("Osteoblastoma"),  # named by no case at all
    }
    make_case(slug="published", final_diagnosis=names["final"], differential=[names["differential"]])
    make_case(
        slug="the-draft",
        status=DRAFT,
        author=faculty,
        final_diagnosis=names["draft"],
        differential=[names["final"]],
    )
    make_case(slug="in-review", status=REVIEW, differential=[names["review"]])
    return names


def page(client, url: str) -> tuple[int, str]:
    response = client.get(url)
    return response.status_code, response.content.decode()


def shown_on_the_a_to_z(client, archive) -> set[str]:
    status, html = page(client, "/diagnoses/")
    assert status == 200
    return {key for key, diagnosis in archive.items() if diagnosis.name in html}


def pages_found(client, archive) -> set[str]:
    return {
        key for key, diagnosis in archive.items() if page(client, f"/diagnoses/{diagnosis.slug}/")[0] == 200
    }


@pytest.mark.parametrize("who", [None, "resident"])
def test_the_public_sees_only_diagnoses_of_published_cases(client, archive, who):
    if who:
        client.force_login(make_user("someone", who))
    assert shown_on_the_a_to_z(client, archive) == {"final", "differential"}
    assert pages_found(client, archive) == {"final", "differential"}
    for key in ["draft", "review", "unused"]:
        status, html = page(client, f"/diagnoses/{archive[key].slug}/")
        assert status == 404 and archive[key].name not in html


def test_the_draft_s_author_and_editors_see_its_diagnosis(client, archive, faculty, editor):
    client.force_login(faculty)  # the author; faculty also see cases in review
    assert shown_on_the_a_to_z(client, archive) == {"final", "differential", "draft", "review"}
    assert pages_found(client, archive) == {"final", "differential", "draft", "review"}
    client.force_login(editor)
    assert pages_found(client, archive) == {"final", "differential", "draft", "review"}


def test_another_faculty_member_does_not_see_the_draft_s_diagnosis(client, archive, other_faculty):
    client.force_login(other_faculty)
    assert pages_found(client, archive) == {"final", "differential", "review"}


def test_the_home_page_lists_only_final_diagnoses_of_published_cases(client, archive):
    status, html = page(client, "/")
    assert status == 200
    assert f'href="/diagnoses/{archive["final"].slug}/"' in html
    for key in ["draft", "review", "unused"]:
        assert archive[key].name not in html and f"/diagnoses/{archive[key].slug}/" not in html


def test_publishing_and_unpublishing_show_and_hide_the_diagnosis_at_once(client, archive):
    url = f"/diagnoses/{archive['draft'].slug}/"
    assert page(client, url)[0] == 404
    draft = Case.objects.get(slug="the-draft")
    draft.status, draft.published_at = PUBLISHED, timezone.now()
    draft.save()
    assert page(client, url)[0] == 200
    assert "draft" in shown_on_the_a_to_z(client, archive)
    draft.status, draft.published_at = DRAFT, None
    draft.save()
    assert page(client, url)[0] == 404
    assert "draft" not in shown_on_the_a_to_z(client, archive)
