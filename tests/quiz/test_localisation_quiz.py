"""“Point to the lesion” in quiz mode: asked after the diagnosis (and the single-best-answer questions)
and before the reveal; the click, in image pixels, is marked on the server, which only then draws the
targets; the mark is kept on the attempt for logged-in and anonymous residents alike, counts in progress
as a localisation dimension, and the review schedule takes the lowest quality among the parts."""

import pytest
import reversion
from django.db import connection
from django.test.utils import CaptureQueriesContext
from reversion.models import Version

from imaging.models import Image
from quiz.models import LesionTarget, LocalisationQuestion, QuizAttempt, ReviewCard
from quiz.scheduling import attempt_quality
from tests.helpers.localisation import (
    MR_SMALL,
    RTDOSE,
    add_localisation,
    attempt_token,
    click,
    ellipse,
    images_of,
    polygon,
    series_with_images,
)
from tests.helpers.questions import OPTIONS, add_question, position_of, questions_only

pytestmark = pytest.mark.django_db

SQUARE = [(20, 20), (40, 20), (40, 40), (20, 40)]


@pytest.fixture
def series(make_case, diagnosis):
    case = make_case(
        slug="sacral-mass", final_diagnosis=diagnosis("Chordoma"), clinical_history="Back pain for months."
    )
    return series_with_images(case, MR_SMALL, MR_SMALL)


@pytest.fixture
def question(series):
    first = images_of(series)[0]
    return add_localisation(series.study.case, series, polygon(first, SQUARE))


def answer_diagnosis(client, case, guess="Chordoma") -> str:
    response = client.post(f"/cases/{case.slug}/quiz/", {"guess": guess})
    assert response.status_code == 302
    return response["Location"]


def test_the_click_comes_after_the_diagnosis_and_before_the_reveal(client, question):
    case = question.case
    page = client.get(f"/cases/{case.slug}/quiz/").content.decode()
    assert "1 question on the case follows before the reveal" in page
    url = answer_diagnosis(client, case)
    assert f"/quiz/localise/{question.pk}/?attempt=" in url
    page = client.get(url).content.decode()
    assert "Question 1 of 1" in page and "Click the abnormality" in page
    assert 'class="quiz-form localisation-form' in page and "js/localise.js" in page
    # The revealed page waits for the click.
    token = url.split("attempt=")[1]
    assert client.get(f"/cases/{case.slug}/quiz/?attempt={token}")["Location"] == url
    answered = click(client, url, image=images_of(question.series)[0], x=30, y=30)
    assert answered.status_code == 302 and answered["Location"] == url
    page = client.get(url).content.decode()
    assert "a hit" in page and "See the answer" in page
    revealed = client.get(f"/cases/{case.slug}/quiz/?attempt={token}").content.decode()
    assert "Quiz case: the answer" in revealed
    assert "Pointing to the lesion: 1 of 1 hit" in revealed


def test_a_click_beside_the_target_on_the_other_image_is_a_miss(client, question):
    url = answer_diagnosis(client, question.case)
    second = images_of(question.series)[1]  # the same picture, but not the slice the target is on
    click(client, url, image=second, x=30, y=30)
    page = client.get(url).content.decode()
    assert "a miss" in page
    # The answer shows the slice clicked (with the click) and the slice with the target.
    assert page.count('class="localisation-figure"') == 2
    assert "Slice 2; your click is the red circle" in page
    assert "Slice 1: the target outlined" in page


def test_a_click_off_the_image_is_refused_and_nothing_is_stored(client, question, resident):
    client.force_login(resident)
    url = answer_diagnosis(client, question.case)
    image = images_of(question.series)[0]
    refused = click(client, url, image=image, x=64.5, y=10)
    assert refused.status_code == 400
    assert "is outside the image, which is 64 x 64 pixels" in refused.content.decode()
    assert click(client, url, image=image, x=10, y=10, frame=1).status_code == 400
    assert click(client, url, image=image, x="", y=10).status_code == 400
    assert QuizAttempt.objects.get().localisation_marks == {}


def test_an_image_flagged_for_review_on_a_published_case_is_neither_clicked_nor_drawn(client, question):
    first, second = images_of(question.series)
    add_localisation(
        question.case, question.series, polygon(second, SQUARE), prompt="Click the other one", order=2
    )
    Image.objects.filter(pk=second.pk).update(needs_review=True, review_reason="Burned-in text")
    url = answer_diagnosis(client, question.case)
    # Only the first question is asked: the second's one target is on the flagged image.
    assert "Question 1 of 1" in client.get(url).content.decode()
    refused = click(client, url, image=second, x=30, y=30)
    assert refused.status_code == 400
    assert "not on an image of this question" in refused.content.decode()
    assert click(client, url, image=first, x=30, y=30).status_code == 302


def test_a_click_on_an_image_of_another_series_is_refused(client, question):
    other = series_with_images(question.case, MR_SMALL, label="Sagittal T1")
    url = answer_diagnosis(client, question.case)
    refused = click(client, url, image=images_of(other)[0], x=30, y=30)
    assert refused.status_code == 400
    assert "not on an image of this question" in refused.content.decode()


@pytest.mark.parametrize("logged_in", [True, False], ids=["logged-in", "anonymous"])
def test_the_mark_is_kept_on_the_attempt_and_the_first_click_stands(client, question, resident, logged_in):
    if logged_in:
        client.force_login(resident)
    url = answer_diagnosis(client, question.case)
    image = images_of(question.series)[0]
    click(client, url, image=image, x=5.5, y=60.25)
    click(client, url, image=image, x=30, y=30)  # a second try changes nothing
    expected = {str(question.pk): {"image": image.pk, "frame": 0, "x": 5.5, "y": 60.25, "hit": False}}
    if logged_in:
        assert QuizAttempt.objects.get().localisation_marks == expected
    else:
        assert not QuizAttempt.objects.exists()
        (stored,) = client.session["quiz_attempts"].values()
        assert stored["localisation_marks"] == expected
    assert "a miss" in client.get(url).content.decode()


def test_the_tolerance_setting_decides_a_near_click(client, question, settings):
    image = images_of(question.series)[0]
    settings.LESION_TARGET_TOLERANCE = 0.05  # 3.2 px on this 64-pixel-wide image
    near = answer_diagnosis(client, question.case)
    click(client, near, image=image, x=43, y=30)
    assert "a hit" in client.get(near).content.decode()
    settings.LESION_TARGET_TOLERANCE = 0.02  # 1.28 px
    again = answer_diagnosis(client, question.case)
    click(client, again, image=image, x=43, y=30)
    assert "a miss" in client.get(again).content.decode()


def test_a_rotated_ellipse_on_the_edge_of_the_image_is_hit(client, series):
    image = images_of(series)[0]
    question = add_localisation(series.study.case, series, ellipse(image, 64, 32, 12, 4, rotation=90))
    url = answer_diagnosis(client, question.case)
    click(client, url, image=image, x=62, y=42)  # along the rotated long axis (vertical), 10 px down
    page = client.get(url).content.decode()
    assert "a hit" in page
    assert 'transform="rotate(90' in page  # the answer draws it rotated


def test_each_part_keeps_its_outcome_and_the_schedule_takes_the_lowest(client, question, resident):
    client.force_login(resident)
    add_question(question.case)
    url = answer_diagnosis(client, question.case)  # a correct diagnosis: quality 5
    assert "/quiz/questions/" in url
    page = client.get(url).content.decode()
    assert "Question 1 of 2" in page  # the click is numbered on from the single-best-answer question
    token = url.split("attempt=")[1]
    answered = client.post(url.split("?")[0], {"attempt": token, "choice": position_of(page, OPTIONS[0][0])})
    assert "Next question" in client.get(answered["Location"]).content.decode()
    following = client.get(f"/cases/{question.case.slug}/quiz/?attempt={token}")["Location"]
    assert "/quiz/localise/" in following
    assert "Question 2 of 2" in client.get(following).content.decode()
    assert ReviewCard.objects.get().last_quality == 5
    click(client, following, image=images_of(question.series)[0], x=2, y=2)  # a miss
    assert "See the answer" in client.get(answered["Location"]).content.decode()  # nothing left to ask
    attempt = QuizAttempt.objects.get()
    assert attempt.mark == "correct" and attempt.questions_right == 1 and attempt.localisation_hits == 0
    card = ReviewCard.objects.get()
    assert card.last_quality == 1 and card.repetitions == 0


def test_attempt_quality_takes_the_lowest_part():
    assert attempt_quality("correct", [True], [True]) == 5
    assert attempt_quality("correct", [True], [False]) == 1
    assert attempt_quality("close", [], [True]) == 3
    assert attempt_quality("", [], [True]) == 5
    assert attempt_quality("", [], []) is None


def test_progress_shows_localisation_as_a_dimension(client, question, resident):
    client.force_login(resident)
    image = images_of(question.series)[0]
    click(client, answer_diagnosis(client, question.case), image=image, x=30, y=30)
    click(client, answer_diagnosis(client, question.case), image=image, x=1, y=1)
    page = client.get("/quiz/progress/").content.decode()
    assert "Localisation: 1 of 2 clicks hit (50%)" in page
    assert '<th scope="row">MRI</th>' in page.split('id="by-localisation"')[1]
    assert "; localisation: 0 of 1 hit" in page


def test_a_question_without_targets_is_not_asked(client, series):
    LocalisationQuestion.objects.create(case=series.study.case, series=series)
    response = client.post(f"/cases/{series.study.case.slug}/quiz/", {"guess": "Chordoma"})
    assert response.status_code == 200 and "Quiz case: the answer" in response.content.decode()


def test_a_localisation_page_is_only_for_its_own_attempt(client, question, make_case):
    url = answer_diagnosis(client, question.case)
    other = make_case(slug="other-case")
    token = attempt_token(client.post(f"/cases/{other.slug}/quiz/", {"guess": "x"}).content.decode())
    assert client.get(f"{url.split('?')[0]}?attempt={token}").status_code == 404
    client.logout()
    client.cookies.clear()
    assert client.get(url).status_code == 404


def test_the_pages_read_localisation_in_a_fixed_number_of_queries(
    client, question, django_assert_max_num_queries
):
    image = images_of(question.series)[0]
    for order in range(2, 6):
        add_localisation(question.case, question.series, polygon(image, SQUARE), order=order)
    url = answer_diagnosis(client, question.case)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for order in range(6, 12):
        add_localisation(question.case, question.series, ellipse(image, 30, 30, 4, 4), order=order)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(url)


def test_a_revision_of_a_published_case_holds_the_targets(question, editor):
    case = question.case
    with reversion.create_revision():
        reversion.set_user(editor)
        case.save()
    revision = Version.objects.get_for_object(case).first().revision
    held = revision.version_set.get_for_model(LesionTarget)
    assert [version.field_dict["points"] for version in held] == [[list(point) for point in SQUARE]]
    assert revision.version_set.get_for_model(LocalisationQuestion).count() == 1


def test_a_quiz_session_asks_the_click_before_the_next_case(client, question, make_case):
    make_case(slug="second-case")  # nothing to click
    session_url = client.post("/quiz/", {"count": 5})["Location"]
    session_id = session_url.split("/")[3]
    first_url = client.get(session_url)["Location"]
    if question.case.slug not in first_url:
        client.post(first_url.split("?")[0], {"guess": "x", "session": session_id})
    response = client.post(f"/cases/{question.case.slug}/quiz/", {"guess": "Chordoma", "session": session_id})
    localise_url = response["Location"]
    assert "/quiz/localise/" in localise_url
    # Back to the session before clicking: it goes on with this case's click, not the next case.
    assert client.get(client.get(session_url)["Location"])["Location"] == localise_url
    click(client, localise_url, image=images_of(question.series)[0], x=30, y=30)
    assert "Quiz session · case" in client.get(localise_url).content.decode()
    score = client.get(f"/quiz/session/{session_id}/score/").content.decode()
    assert "localisation: 1 of 1 hit" in score


def test_the_click_instead_of_the_diagnosis(client, question, resident):
    client.force_login(resident)
    questions_only(question.case)
    page = client.get(f"/cases/{question.case.slug}/quiz/").content.decode()
    assert "This case asks 1 question instead of the diagnosis" in page and "Answer the questions" in page
    url = answer_diagnosis(client, question.case, guess="")
    click(client, url, image=images_of(question.series)[0], x=30, y=30)
    attempt = QuizAttempt.objects.get()
    assert attempt.mark == "" and attempt.localisation_hits == 1
    assert ReviewCard.objects.get().last_quality == 5  # the click is the only part answered


def test_a_click_on_the_wrong_frame_of_a_multi_frame_image_is_a_miss(client, make_case):
    case = make_case(slug="dose-case")
    series = series_with_images(case, RTDOSE, label="Axial", modality="OT")
    (image,) = images_of(series)
    assert image.frame_count > 4
    question = add_localisation(case, series, polygon(image, [(0, 0), (10, 0), (10, 10), (0, 10)], frame=3))
    wrong = answer_diagnosis(client, case)
    click(client, wrong, image=image, x=5, y=5, frame=2)
    assert "a miss" in client.get(wrong).content.decode()
    right = answer_diagnosis(client, case)
    click(client, right, image=image, x=5, y=5, frame=3)
    page = client.get(right).content.decode()
    assert "a hit" in page and "Slice 4: the target outlined" in page
    assert str(question.pk) in right
