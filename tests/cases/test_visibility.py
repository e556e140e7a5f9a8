"""Who sees a draft or a case in review: permissions decide, never is_staff."""

import pytest
from django.contrib.auth.models import Permission

from cases.models import Case
from tests.helpers.accounts import make_user

pytestmark = pytest.mark.django_db

DRAFT, REVIEW, PUBLISHED = Case.Status.DRAFT, Case.Status.IN_REVIEW, Case.Status.PUBLISHED


@pytest.fixture
def cases(make_case, faculty, diagnosis, region_tree):
    chordoma = diagnosis("Chordoma")
    common = {"final_diagnosis": chordoma, "regions": [region_tree["sacrum"]], "tags": ["bone"]}
    return {
        "draft": make_case(slug="the-draft", status=DRAFT, author=faculty, **common),
        "review": make_case(slug="in-review", status=REVIEW, author=faculty, **common),
        "published": make_case(slug="published", author=faculty, **common),
    }


def visible(client, user) -> dict[str, int]:
    if user is not None:
        client.force_login(user)
    return {
        slug: client.get(f"/cases/{slug}/").status_code for slug in ["the-draft", "in-review", "published"]
    }


def test_anonymous_sees_only_published(client, cases):
    assert visible(client, None) == {"the-draft": 404, "in-review": 404, "published": 200}


def test_resident_sees_only_published(client, cases, resident):
    assert visible(client, resident) == {"the-draft": 404, "in-review": 404, "published": 200}


def test_author_sees_own_draft_and_own_case_in_review(client, cases, faculty):
    assert visible(client, faculty) == {"the-draft": 200, "in-review": 200, "published": 200}


def test_other_faculty_sees_cases_in_review_but_not_another_authors_draft(client, cases, other_faculty):
    assert visible(client, other_faculty) == {"the-draft": 404, "in-review": 200, "published": 200}


def test_editor_sees_everything(client, cases, editor):
    assert visible(client, editor) == {"the-draft": 200, "in-review": 200, "published": 200}


def test_is_staff_alone_grants_nothing(client, cases):
    staff_without_role = make_user("staffer", is_staff=True)
    assert visible(client, staff_without_role) == {"the-draft": 404, "in-review": 404, "published": 200}


def test_a_directly_granted_permission_is_honoured(client, cases):
    reviewer = make_user("reviewer")
    reviewer.user_permissions.add(Permission.objects.get(codename="view_review_case"))
    assert visible(client, reviewer) == {"the-draft": 404, "in-review": 200, "published": 200}


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/cases/",
        "/cases/?region=sacrum",
        "/regions/spine/",
        "/diagnoses/chordoma/",
        "/tags/bone/",
        "/diagnoses/",
    ],
)
def test_hidden_cases_stay_out_of_every_list_and_count(client, cases, resident, url):
    client.force_login(resident)
    html = client.get(url).content.decode()
    assert "/cases/the-draft/" not in html
    assert "/cases/in-review/" not in html
    if url != "/diagnoses/":
        assert "/cases/published/" in html
    assert ">2<" not in html and ">3<" not in html  # facet counts count only the published case


def test_editor_sees_drafts_in_lists_labelled_with_their_status(client, cases, editor):
    client.force_login(editor)
    html = client.get("/cases/").content.decode()
    assert "/cases/the-draft/" in html and "/cases/in-review/" in html
    assert "In review" in html and "Draft" in html
