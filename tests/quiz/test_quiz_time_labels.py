"""Study time labels before the quiz reveal (``quiz.presentation.withhold_time_labels``).

"After embolisation, 3 months" names the treatment, and so the diagnosis: the unrevealed quiz page
(and the staff preview) shows "Initial" for a study labelled so and "Study N" for
every other study; the revealed page and the case page show the real labels.
"""

import re

import pytest

from imaging.inputs import InputFile
from imaging.models import Study
from imaging.services import images_ingest, series_create
from quiz.presentation import neutral_time_label
from tests.helpers.leaks import png_bytes

pytestmark = pytest.mark.django_db

SLUG = "epistaxis-teen"
TREATED = "After embolisation, 3 months"
STUDY_TIME = re.compile(r'<span class="study-time">([^<]*)</span>')
STUDY_HEADING = re.compile(r"<h3>([^<]*)</h3>")


def quiz_url(slug: str = SLUG) -> str:
    return f"/cases/{slug}/quiz/"


def add_series(case, label: str, time_label: str, modality: str = "MR"):
    series = series_create(case=case, label=label, modality=modality, time_label=time_label)
    result = images_ingest(series=series, files=[InputFile(f"{label}.png", png_bytes())])
    assert not result.rejected
    return series


@pytest.fixture
def treated_case(make_case, diagnosis):
    case = make_case(
        slug=SLUG,
        age=15,
        sex="M",
        clinical_history="Recurrent unilateral epistaxis and nasal obstruction.",
        final_diagnosis=diagnosis("Juvenile nasopharyngeal angiofibroma"),
    )
    add_series(case, "Axial T1 post contrast", "Initial")
    add_series(case, "Coronal T2", TREATED)
    return case


def get_html(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def reveal(client, slug: str = SLUG) -> str:
    response = client.post(quiz_url(slug), {"guess": "angiofibroma"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Juvenile nasopharyngeal angiofibroma" in html  # really the revealed page
    return html


def assert_withheld(html: str) -> None:
    assert "embolisation" not in html.lower()
    assert "3 months" not in html


def test_the_quiz_page_never_names_the_treatment_and_keeps_the_order(client, treated_case):
    html = get_html(client, quiz_url())
    assert_withheld(html)
    assert STUDY_TIME.findall(html) == ["Initial", "Study 2"]
    assert STUDY_HEADING.findall(html) == ["MRI · Initial", "MRI · Study 2"]
    assert 'aria-label="MRI, Initial"' in html and 'aria-label="MRI, Study 2"' in html


def test_the_case_page_and_the_revealed_page_show_the_real_labels(client, treated_case):
    # The quiz page first, so that a label changed in memory for the quiz would show here.
    assert_withheld(get_html(client, quiz_url()))
    case_page = get_html(client, f"/cases/{SLUG}/")
    assert STUDY_TIME.findall(case_page) == ["Initial", TREATED]
    assert f"MRI · {TREATED}" in case_page
    revealed = reveal(client)
    assert STUDY_TIME.findall(revealed) == ["Initial", TREATED]
    # And the case page does not lend its labels to the quiz page, nor take the quiz's.
    assert_withheld(get_html(client, quiz_url()))
    assert STUDY_TIME.findall(get_html(client, f"/cases/{SLUG}/")) == ["Initial", TREATED]


def test_reopening_the_revealed_page_by_its_attempt_shows_the_real_label(client, treated_case):
    revealed = reveal(client)
    token = re.search(r'name="attempt" value="([^"]+)"', revealed).group(1)
    assert TREATED in get_html(client, f"{quiz_url()}?attempt={token}")
    assert_withheld(get_html(client, quiz_url()))


def test_an_edited_label_shows_on_the_case_page_and_stays_withheld_in_the_quiz(client, treated_case):
    assert TREATED in get_html(client, f"/cases/{SLUG}/")
    assert_withheld(get_html(client, quiz_url()))
    study = Study.objects.get(case=treated_case, time_label=TREATED)
    study.time_label = "After embolisation, 6 months"
    study.save()
    case_page = get_html(client, f"/cases/{SLUG}/")
    assert "After embolisation, 6 months" in case_page and TREATED not in case_page
    quiz = get_html(client, quiz_url())
    assert "embolisation" not in quiz.lower() and "6 months" not in quiz
    assert STUDY_TIME.findall(quiz) == ["Initial", "Study 2"]
    assert Study.objects.get(pk=study.pk).time_label == "After embolisation, 6 months"  # never saved


def test_a_refused_answer_shows_the_unrevealed_page_without_the_label(client, treated_case):
    response = client.post(quiz_url(), {"guess": "y" * 201})
    assert response.status_code == 400
    html = response.content.decode()
    assert_withheld(html)
    assert STUDY_TIME.findall(html) == ["Initial", "Study 2"]


def test_the_staff_preview_withholds_the_label(client, treated_case, editor):
    client.force_login(editor)
    html = get_html(client, f"{quiz_url()}preview/")
    assert "Quiz preview" in html
    assert_withheld(html)
    assert STUDY_TIME.findall(html) == ["Initial", "Study 2"]


def test_every_study_labelled_initial_keeps_it_and_the_others_show_their_place(client, make_case):
    case = make_case(slug="three-studies", clinical_history="Pain.")
    add_series(case, "Axial T2", "After chemotherapy")
    add_series(case, "Axial CT", "initial", modality="CT")
    add_series(case, "Sagittal T1", "Follow-up, 1 year")
    html = get_html(client, quiz_url("three-studies"))
    assert STUDY_TIME.findall(html) == ["Study 1", "Initial", "Study 3"]
    assert STUDY_HEADING.findall(html) == ["MRI · Study 1", "CT · Initial", "MRI · Study 3"]
    for real in ("chemotherapy", "Follow-up", "1 year"):  # ("initial" is in the viewport meta tag)
        assert real.lower() not in html.lower()
    assert STUDY_TIME.findall(get_html(client, "/cases/three-studies/")) == [
        "After chemotherapy",
        "initial",
        "Follow-up, 1 year",
    ]


@pytest.mark.parametrize(
    ("number", "label", "shown"),
    [
        (1, "Initial", "Initial"),
        (1, "INITIAL", "Initial"),
        (1, " initial ", "Initial"),
        (1, "Initial, before embolisation", "Study 1"),
        (1, "Before surgery", "Study 1"),
        (2, "Initial", "Initial"),  # e.g. the MRI beside the CT at presentation
        (3, "After embolisation, 3 months", "Study 3"),
    ],
)
def test_neutral_time_labels(number, label, shown):
    assert neutral_time_label(number, label) == shown
