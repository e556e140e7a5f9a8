"""Faculty preview an unpublished case's quiz page; nobody can answer or reveal it there."""

import pytest

from cases.models import Case

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(make_case, faculty, diagnosis):
    return make_case(
        slug="draft-quiz",
        status=Case.Status.DRAFT,
        author=faculty,
        age=50,
        sex="F",
        clinical_history="Neck pain.",
        final_diagnosis=diagnosis("Chordoma", synonyms=["notochordal"]),
    )


def test_author_and_editor_preview_the_quiz_page_without_the_answer(client, draft, faculty, editor):
    for user in (faculty, editor):
        client.force_login(user)
        response = client.get("/cases/draft-quiz/quiz/preview/")
        html = response.content.decode()
        assert response.status_code == 200
        assert "Quiz preview" in html and "Neck pain." in html
        assert "chordoma" not in html.lower() and "notochordal" not in html.lower()
        assert "disabled>Reveal the answer" in html


def test_others_get_nothing(client, draft, resident, other_faculty):
    assert client.get("/cases/draft-quiz/quiz/preview/").status_code == 302  # to log in
    for user in (resident, other_faculty):
        client.force_login(user)
        assert client.get("/cases/draft-quiz/quiz/preview/").status_code == 404
    # And the real quiz still refuses the draft to everyone.
    assert client.post("/cases/draft-quiz/quiz/", {"guess": "chordoma"}).status_code == 404
