"""Before the reveal, the quiz gives nothing away: not in the page, nor in anything the page loads.

Every published seed case, and a case built to tempt leaks (the diagnosis in its title, captions,
tags, findings, a sub-region's name, a differential item in a series label, an uploaded file
called "chordoma_T2.dcm" whose DICOM header says "Chordoma"), is fetched as its quiz page; then
every URL the page references (img src, link href, script src, image links) and every frame the
stack viewer could load are fetched too. No answer string may occur in any of those bytes.
"""

import json
import re
import zlib
from html import unescape

import pytest
from django.utils import timezone

from cases.models import Case
from imaging.inputs import InputFile
from imaging.models import Image, Series
from imaging.services import images_ingest, series_create
from tests.helpers.accounts import make_user
from tests.helpers.leaks import (
    PNG_SIGNATURE,
    answer_strings,
    assert_quiz_page_leaks_nothing,
    fetch_values,
    leaks_in,
    png_bytes,
    question_secrets,
    target_secrets,
    viewer_values_urls,
)
from tests.helpers.localisation import add_localisation, click, ellipse, images_of, polygon
from tests.helpers.questions import add_question, correct_text, position_of

pytestmark = pytest.mark.django_db


def test_the_image_check_reads_png_text_chunks():
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    png = PNG_SIGNATURE + chunk(b"tEXt", b"Comment\x00EMH") + chunk(b"IDAT", b"xxEMHxx") + chunk(b"IEND", b"")
    assert leaks_in(png, {"EMH"}, text=False) == ["EMH"]
    form = b'<input type="hidden" name="csrfmiddlewaretoken" value="x1EMh2"><script nonce="aml9">'
    assert leaks_in(form, {"EMH", "aml"}) == []
    pixels_only = PNG_SIGNATURE + chunk(b"IDAT", b"xxEMHxx aml Chordoma") + chunk(b"IEND", b"")
    assert leaks_in(pixels_only, {"EMH", "aml", "Chordoma"}, text=False) == ["Chordoma"]


def test_no_published_seed_case_leaks_before_reveal(client, seeded_with_images):
    for case in seeded_with_images:
        fetched = assert_quiz_page_leaks_nothing(client, case)
        assert fetched > 3, "the images were not fetched"


def test_no_seed_case_leaks_to_a_logged_in_resident_or_inside_a_quiz_session(client, seeded_with_images):
    client.force_login(make_user("quizzer", "resident"))
    for case in seeded_with_images:
        assert_quiz_page_leaks_nothing(client, case)
    response = client.post("/quiz/", {"region": "spine", "count": 5})
    session_url = response["Location"]
    for _ in seeded_with_images:
        current = client.get(session_url)["Location"]
        case = Case.objects.get(slug=current.split("/")[2])
        assert_quiz_page_leaks_nothing(client, case, current)
        client.post(f"/cases/{case.slug}/quiz/", {"guess": "", "session": session_url.split("/")[3]})


def test_a_case_built_to_tempt_leaks_gives_nothing_away_before_reveal(client, tempting_case):
    strings = answer_strings(tempting_case)
    # The checker looks for all of these, so each bait is really checked.
    for bait in [
        "Chordoma",
        "notochordal sarcoma",
        "Sacral chordoma in a 61-year-old man",
        "Chordoma: lobulated mass of very high T2 signal",
        "Presacral space",
        "notochord remnant",
        "Schwannoma",
        "GCTB",
        "Physaliferous cells are the hallmark.",
        "A lobulated midline mass destroys the lower sacral segments.",
        "After sacrectomy and proton therapy, 1 year",
    ]:
        assert bait in strings
    fetched = assert_quiz_page_leaks_nothing(client, tempting_case)
    assert fetched >= 4
    html = client.get(f"/cases/{tempting_case.slug}/quiz/").content.decode()
    assert "Sample image" not in html  # these are not sample images
    assert (
        "Sagittal T2" in html and "Series 2" in html
    )  # the neutral label stays, the tempting one is replaced
    # A series label naming the treatment is replaced too (it is not one of the answer strings).
    assert "sacrectomy" not in html.lower() and "Series 3" in html


def test_the_values_the_viewer_windows_carry_no_text(client, tempting_case):
    """The viewer's lossless values: numbers and preset names, nothing of the DICOM header (whose series
    description and comments name the diagnosis), nor a label or caption."""
    urls = viewer_values_urls(tempting_case)
    assert len(urls) == 2  # the two DICOM series; the PNG upload has no values
    strings = answer_strings(tempting_case) | {"sacral chordoma, notochordal sarcoma", "Sagittal T2"}
    for url in urls:
        headers, values = fetch_values(client, url)
        assert leaks_in(headers, strings) == [] and leaks_in(values, strings, text=False) == []
        info = json.loads(dict(line.split(": ", 1) for line in headers.decode().splitlines())["X-Frame"])
        assert set(info) == {"width", "height", "type", "invert", "windows"}
        assert set(info["windows"]) <= {"default", "full"}
    # The checker is not blind to raw bytes: the same values with the diagnosis spliced in are caught.
    assert "Chordoma" in leaks_in(values[:40] + b"Chordoma" + values[40:], strings, text=False)


def test_the_leak_checker_does_find_the_answer_once_revealed(client, tempting_case):
    """The same check run on the revealed page must fail: the checker is not blind."""
    response = client.post(f"/cases/{tempting_case.slug}/quiz/", {"guess": "schwannoma"})
    leaked = leaks_in(response.content, answer_strings(tempting_case))
    assert {
        "Chordoma",
        "Schwannoma",
        "Chordoma: lobulated mass of very high T2 signal",
        "After sacrectomy and proton therapy, 1 year",
    } <= set(leaked)
    assert "Post-sacrectomy sagittal T1" in response.content.decode()  # the real label, once revealed


def test_a_question_gives_nothing_away_before_it_is_answered(client, tempting_case):
    """A single-best-answer question on the tempting case: its rationales and which option is correct
    stay out of the diagnosis page, the question page and all they load, until it is answered."""
    question = add_question(tempting_case)
    options = frozenset(question.options.values_list("text", flat=True))
    assert correct_text(question) in answer_strings(tempting_case)
    assert_quiz_page_leaks_nothing(client, tempting_case)
    response = client.post(f"/cases/{tempting_case.slug}/quiz/", {"guess": "schwannoma"})
    question_url = response["Location"]
    assert "/quiz/questions/" in question_url
    fetched = assert_quiz_page_leaks_nothing(client, tempting_case, question_url, shown=options)
    assert fetched > 3, "the images were not fetched"
    token = question_url.split("attempt=")[1]
    page = client.get(question_url).content.decode()
    answered = client.post(
        question_url.split("?")[0], {"attempt": token, "choice": position_of(page, "Bone scan only")}
    )
    leaked = leaks_in(client.get(answered["Location"]).content, question_secrets(tempting_case) - options)
    assert len(leaked) == len(question.options.all()), "once answered, every rationale is shown"


# Fractional coordinates no page would show by chance (tests.helpers.leaks.target_secrets).
POLYGON = [(23.4375, 17.8125), (41.5625, 19.0625), (37.6875, 44.3125)]


def test_a_lesion_target_gives_nothing_away_before_the_click(client, tempting_case):
    """A localisation question on the tempting case: the targets' coordinates stay out of the diagnosis
    page, the localisation page (its stack data, headers and every image it can load) and the URL it is
    reached by, until the click is marked; then the answer draws them."""
    series = Series.objects.get(study__case=tempting_case, label="Sagittal T2")
    image = images_of(series)[0]
    add_localisation(
        tempting_case,
        series,
        polygon(image, POLYGON),
    )
    axial = Series.objects.get(study__case=tempting_case, label="Schwannoma protocol, axial")
    add_localisation(
        tempting_case, axial, ellipse(images_of(axial)[0], 12.6875, 30.3125, 5.8125, 3.1875, 27.5), order=2
    )
    secrets = target_secrets(tempting_case)
    assert len(secrets) == 10 and secrets <= answer_strings(tempting_case)
    assert_quiz_page_leaks_nothing(client, tempting_case)
    response = client.post(f"/cases/{tempting_case.slug}/quiz/", {"guess": "schwannoma"})
    url = response["Location"]
    assert "/quiz/localise/" in url and leaks_in(url.encode(), secrets) == []
    fetched = assert_quiz_page_leaks_nothing(client, tempting_case, url)
    assert fetched > 3, "the images were not fetched"
    page = client.get(url)
    headers = "\n".join(f"{name}: {value}" for name, value in page.headers.items()).encode()
    assert leaks_in(headers, secrets) == []
    stack = json.loads(
        re.search(
            r'<script id="stack-\d+" type="application/json">(.*?)</script>', page.content.decode(), re.S
        ).group(1)
    )
    assert set(stack) == {
        "series",
        "element_id",
        "label",
        "frames",
        "presets",
        "teaching",
        "start",
        "png_only",
        "overlays",
        "captions",
    }
    assert stack["overlays"] == {} and stack["captions"] == {}
    for html in (page.content.decode(), client.get(f"/cases/{tempting_case.slug}/quiz/").content.decode()):
        assert "style=" not in html and "<style" not in html
        scripts = re.findall(r"<script[^>]*>", html)
        assert all('src="/static/' in tag or 'type="application/json"' in tag for tag in scripts)
    # The checker is not blind: once the click is marked, the answer draws the targets.
    answered = click(client, url, image=image, x=30.5, y=30.5)
    assert answered.status_code == 302
    assert set(leaks_in(client.get(url).content, secrets)) >= {
        f"{value:g}" for point in POLYGON for value in point
    }
    # The next question is on the series whose label names a differential item: withheld there too.
    following = client.get(f"/cases/{tempting_case.slug}/quiz/?attempt={url.split('attempt=')[1]}")[
        "Location"
    ]
    assert following != url and "/quiz/localise/" in following
    assert_quiz_page_leaks_nothing(client, tempting_case, following)


def test_sample_image_badge_stays_visible_in_quiz_mode(client, seeded_with_images):
    for case in seeded_with_images:
        html = client.get(f"/cases/{case.slug}/quiz/").content.decode()
        assert "Sample image — not from this patient" in html


def test_quiz_page_shows_age_sex_history_and_images_under_a_neutral_heading(client, seeded_with_images):
    html = client.get("/cases/back-and-left-leg-pain-47f/quiz/").content.decode()
    assert "<h1>Quiz case</h1>" in html
    assert "47-year-old, female" in html
    assert "Severe pain in the back and the left leg for seven weeks." in html
    assert "<title>Quiz case" in html
    assert "/images/" in html
    assert "47-year-old woman with back and left leg pain" not in html


@pytest.mark.parametrize("cases", ["seeded_with_images", "tempting_case"])
def test_quiz_pages_carry_no_inline_script_or_style(client, request, cases):
    found = request.getfixturevalue(cases)
    for case in found if isinstance(found, list) else [found]:
        for response in [
            client.get(f"/cases/{case.slug}/quiz/"),
            client.post(f"/cases/{case.slug}/quiz/", {"guess": "x"}),
        ]:
            html = response.content.decode()
            assert "style=" not in html and "<style" not in html
            scripts = re.findall(r"<script[^>]*>", html)
            assert all('src="/static/' in tag or 'type="application/json"' in tag for tag in scripts)


# Series labels that must not reach the unrevealed page, each with what it gives away. None contains the
# final diagnosis's name as written (the label check at upload refuses that), so only the allow-list
# stops them.
WITHHELD_SERIES_LABELS = {
    "Vertebral haemangioma, sagittal T1": "Vertebral haemangioma",  # the answer in other words
    "After coiling": "coiling",  # a treatment, which names the lesion
    "IOH": "IOH",  # the diagnosis's abbreviation, not listed as a synonym
    "Okonkwo sagittal T2": "Okonkwo",  # a surname (the patient's, or the referrer's)
    "St Bartholomew's Hospital CT": "Bartholomew",  # where the patient was seen
    "GCTB protocol, axial": "GCTB",  # a differential item's abbreviation
    "Pre-vertebroplasty axial CT": "vertebroplasty",  # a procedure
}
# Technique only: shown before the reveal as written.
TECHNIQUE_SERIES_LABELS = {"Sagittal T2", "Axial CT bone window", "Post-contrast T1 fat-sat"}
SERIES_LABEL = re.compile(r'<span class="series-label">([^<]*)</span>')


@pytest.fixture
def labelled_case(make_case, diagnosis):
    case = make_case(
        slug="labelled-series",
        title="Collapsed vertebra with a corduroy pattern",
        age=58,
        sex="F",
        clinical_history="Back pain after lifting.",
        final_diagnosis=diagnosis("Intraosseous haemangioma", synonyms=["vertebral hemangioma"]),
        differential=[diagnosis("Giant cell tumour of bone", synonyms=["GCTB"])],
    )
    for label in [*WITHHELD_SERIES_LABELS, *sorted(TECHNIQUE_SERIES_LABELS)]:
        series = series_create(case=case, label=label, modality="CT" if "CT" in label else "MR")
        result = images_ingest(series=series, files=[InputFile("image.png", png_bytes())])
        assert not result.rejected
    # Every PNG upload is flagged for burned-in text; these hold none, and flagged images are not shown.
    Image.objects.filter(series__study__case=case).update(reviewed_at=timezone.now())
    return case


def series_labels_shown(html: str) -> list[str]:
    return [unescape(label) for label in SERIES_LABEL.findall(html)]


def test_only_technique_series_labels_are_shown_before_the_reveal(client, labelled_case):
    labels_in_order = [
        series.label
        for study in Case.objects.for_detail().get(pk=labelled_case.pk).studies.all()
        for series in study.series.all()
    ]
    expected = [
        label if label in TECHNIQUE_SERIES_LABELS else f"Series {number}"
        for number, label in enumerate(labels_in_order, start=1)
    ]
    assert len(expected) == len(WITHHELD_SERIES_LABELS) + len(TECHNIQUE_SERIES_LABELS)
    url = f"/cases/{labelled_case.slug}/quiz/"
    assert series_labels_shown(client.get(url).content.decode()) == expected
    # Nothing of a withheld label anywhere the page leads to: its text, its images, the viewer's frames.
    given_away = frozenset({*WITHHELD_SERIES_LABELS, *WITHHELD_SERIES_LABELS.values()})
    assert assert_quiz_page_leaks_nothing(client, labelled_case, also=given_away) > len(expected)


def test_the_revealed_page_shows_every_series_label_as_written(client, labelled_case):
    html = client.post(f"/cases/{labelled_case.slug}/quiz/", {"guess": "haemangioma"}).content.decode()
    assert set(series_labels_shown(html)) == {*WITHHELD_SERIES_LABELS, *TECHNIQUE_SERIES_LABELS}
