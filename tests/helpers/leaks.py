"""What the quiz must never let out: the answer's strings, and a checker that fetches a page and
everything it references."""

import io
import re
from html.parser import HTMLParser

import pydicom
import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone
from django.utils.html import escape
from PIL import Image as PILImage

from cases.models import Case, DifferentialItem, Finding, Region
from imaging.demo import SAMPLE_DIR, demo_images_ensure
from imaging.inputs import InputFile
from imaging.models import Annotation, Image
from imaging.rendering import presets_of
from imaging.services import images_ingest, series_create
from quiz.models import LesionTarget, QuestionOption

SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")


MARKDOWN_MARKS = re.compile(r"^[-*+>\d.)\s]+|[*_`]")


class ReferencedUrls(HTMLParser):
    """URLs a browser would load for the page: images, stylesheets, scripts, and the image links."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        wanted = {"img": "src", "script": "src", "link": "href", "source": "src", "a": "href"}.get(tag)
        url = attrs.get(wanted) if wanted else None
        if url and (tag != "a" or url.startswith("/images/")):
            self.urls.append(url)


def referenced_urls(html: str) -> list[str]:
    parser = ReferencedUrls()
    parser.feed(html)
    return parser.urls


def sentences(text: str) -> list[str]:
    found = []
    for part in SENTENCE_END.split(text or ""):
        cleaned = MARKDOWN_MARKS.sub("", part).strip()
        if len(cleaned) >= 12:
            found.append(cleaned)
    return found


def question_secrets(case: Case) -> set[str]:
    """What a single-best-answer question withholds until it is answered: which option is correct (its
    text, on pages where the options are not shown) and every option's rationale."""
    strings = set()
    for option in QuestionOption.objects.filter(question__case=case):
        strings |= set(sentences(option.rationale))
        if option.is_correct:
            strings.add(option.text)
    return strings


def target_secrets(case: Case) -> set[str]:
    """The coordinates of the case's lesion targets, as text: withheld until the click is marked. Only
    numbers with a fractional part of some length can be told from any other number in a page, so tests
    draw their targets at such coordinates (e.g. 23.4375); whole numbers are left out here."""
    strings = set()
    for target in LesionTarget.objects.filter(question__case=case):
        values = [target.center_x, target.center_y, target.radius_x, target.radius_y]
        values += [value for point in target.points for value in point]
        strings |= {f"{value:g}" for value in values if value is not None}
    return {string for string in strings if "." in string and len(string) >= 6}


def answer_strings(case: Case) -> set[str]:
    """Everything that is the answer or part of the teaching withheld before the reveal."""
    case = Case.objects.for_detail().get(pk=case.pk)
    strings = {case.title}
    if case.final_diagnosis:
        strings |= {case.final_diagnosis.name, *case.final_diagnosis.synonyms}
    for item in case.differential_items.all():
        strings |= {item.diagnosis.name, *item.diagnosis.synonyms, *sentences(item.rationale)}
    strings |= {tag.name for tag in case.tags.all()}
    strings |= {region.name for region in case.regions.all() if region.parent_id is not None}
    strings |= {image.caption for image in Image.objects.filter(series__study__case=case) if image.caption}
    # A study's time label can name the treatment ("After embolisation, 3 months").
    strings |= {study.time_label for study in case.studies.all() if study.time_label.lower() != "initial"}
    for text in [case.discussion, case.teaching_points, case.diagnosis_proof, case.treatment_outcome]:
        strings |= set(sentences(text))
    for finding in case.findings.all():
        strings |= set(sentences(finding.text))
    strings |= question_secrets(case)
    strings |= target_secrets(case)
    # What the history says is clinical context the resident is meant to read ("known thalassaemia").
    history = case.clinical_history.lower()
    return {string for string in strings if len(string) >= 3 and string.lower() not in history}


def fetch(client: Client, url: str) -> tuple[bytes, bool]:
    """The bytes behind a URL, and whether they are text (else an image)."""
    static_prefix = "/" + settings.STATIC_URL.lstrip("/")
    if url.startswith(static_prefix):
        # The test server does not serve static files; read what the URL names from the finders.
        path = finders.find(url[len(static_prefix) :].split("?")[0])
        assert path, f"{url} names no static file"
        with open(path, "rb") as handle:
            return handle.read(), True
    response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content, not response["Content-Type"].startswith("image/")


def viewer_frame_urls(case: Case) -> list[str]:
    """Every image URL the stack viewer could request for the case: each frame in each preset."""
    urls = []
    for image in Image.objects.filter(series__study__case=case):
        urls.append(f"/images/{image.pk}/thumb.png")
        for preset in presets_of(image):
            urls += [f"/images/{image.pk}/{preset}/{frame}.png" for frame in range(image.frame_count)]
    return urls


def viewer_values_urls(case: Case) -> list[str]:
    """Every frame's stored values the viewer could window in the page (DICOM images only)."""
    return [
        f"/images/{image.pk}/values/{frame}.raw"
        for image in Image.objects.filter(series__study__case=case, kind=Image.Kind.DICOM)
        for frame in range(image.frame_count)
    ]


def fetch_values(client: Client, url: str) -> tuple[bytes, bytes]:
    """The X-Frame header (text a reader of the response sees) and the raw values (numbers only)."""
    response = client.get(url)
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    assert response["Content-Type"] == "application/octet-stream"
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    return headers.encode(), response.content


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# Compressed pixels are random-looking bytes: any three- or four-letter run turns up in them by chance
# ("EMh", "aml" have). Shorter strings are looked for in a PNG's metadata chunks, where text would sit.
MIN_LENGTH_IN_PIXELS = 5


def png_metadata(content: bytes) -> bytes:
    """Every chunk of a PNG but its pixel data (IDAT): where names, comments and file names would be."""
    assert content.startswith(PNG_SIGNATURE), "not a PNG"
    parts, position = [], len(PNG_SIGNATURE)
    while position + 8 <= len(content):
        length = int.from_bytes(content[position : position + 4], "big")
        kind = content[position + 4 : position + 8]
        if kind != b"IDAT":
            parts.append(kind + content[position + 8 : position + 8 + length])
        position += 12 + length
    return b"".join(parts)


# Random per-request values (CSRF tokens, CSP nonces) hold any three-letter run by chance ("gct" has).
RANDOM_VALUES = re.compile(rb'(name="csrfmiddlewaretoken" value="|nonce=")[^"]*"')


def without_random_values(content: bytes) -> bytes:
    return RANDOM_VALUES.sub(rb'\1"', content)


def leaks_in(content: bytes, strings: set[str], *, text: bool = True) -> list[str]:
    """Answer strings in the content: in any letter case in text (raw or HTML-escaped); in images as
    written, lower, upper or capitalised, short strings only outside the compressed pixels.
    """
    found = []
    if text:
        content = without_random_values(content)
    for string in strings:
        if text:
            hit = any(form.lower().encode() in content.lower() for form in {string, escape(string)})
        else:
            if len(string) >= MIN_LENGTH_IN_PIXELS:
                searched = content
            else:  # raw values have no metadata: all of them are pixels
                searched = png_metadata(content) if content.startswith(PNG_SIGNATURE) else b""
            forms = {string, string.lower(), string.upper(), string.capitalize()}
            hit = any(form.encode() in searched for form in forms)
        if hit:
            found.append(string)
    return sorted(found)


def site_wide_text(client: Client) -> bytes:
    """Text on every page whatever the case (header, search placeholder, footer), from a page with no case."""
    return without_random_values(client.get("/accounts/login/").content).lower()


# Site-wide text that happens to equal an answer string is the same on every page, so not this page's
# leak; each such string must be listed here once someone has looked at it. None today (the search
# box's old placeholder, "e.g. haemangioma sacrum", hinted at the sacral case and was removed).
KNOWN_SITE_WIDE: set[str] = set()


def assert_quiz_page_leaks_nothing(
    client: Client,
    case: Case,
    url: str | None = None,
    also: frozenset[str] = frozenset(),
    shown: frozenset[str] = frozenset(),
) -> int:
    """Fetch the quiz page and everything it references; no answer string (nor any of ``also``) may
    be in any of it, but those the page rightly shows (``shown``: a question page's option texts, the
    correct one among them). Returns how many URLs were fetched."""
    url = url or f"/cases/{case.slug}/quiz/"
    response = client.get(url, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Quiz case" in html and 'class="quiz-form' in html, "not the unrevealed quiz page"
    strings = (answer_strings(case) | also) - shown
    chrome = site_wide_text(client)
    final_names = (
        {case.final_diagnosis.name, *case.final_diagnosis.synonyms} if case.final_diagnosis else set()
    )
    assert not leaks_in(chrome, final_names), "the site-wide text names a final diagnosis"
    site_wide = {string for string in strings if string.lower().encode() in chrome}
    assert {string.lower() for string in site_wide} <= KNOWN_SITE_WIDE, site_wide
    strings -= site_wide
    assert strings, "nothing to look for"
    fetched = {response.request["PATH_INFO"]: (response.content, True)}
    for referenced in referenced_urls(html) + viewer_frame_urls(case):
        if referenced not in fetched:
            fetched[referenced] = fetch(client, referenced)
    for values_url in viewer_values_urls(case):
        headers, values = fetch_values(client, values_url)
        fetched[f"{values_url} (headers)"] = (headers, True)
        fetched[values_url] = (values, False)
    for fetched_url, (content, is_text) in fetched.items():
        leaked = leaks_in(content, strings, text=is_text)
        assert leaked == [], f"{fetched_url} gives away the answer of {case.slug}"
    return len(fetched)


@pytest.fixture
def seeded_with_images(seeded):
    demo_images_ensure()
    cases = list(Case.objects.published())
    assert len(cases) == 3 and all(case.studies.exists() for case in cases)
    return cases


def dicom_named_chordoma() -> bytes:
    dataset = pydicom.dcmread(SAMPLE_DIR / "MR_small.dcm")
    dataset.SeriesDescription = "Chordoma"
    dataset.StudyDescription = "Chordoma"
    dataset.ImageComments = "sacral chordoma, notochordal sarcoma"
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("L", (48, 40), 90).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def tempting_case(make_case, diagnosis, region_tree):
    chordoma = diagnosis("Chordoma", synonyms=["notochordal sarcoma", "sacrococcygeal chordoma"])
    giant_cell = diagnosis("Giant cell tumour of bone", synonyms=["GCTB", "osteoclastoma"])
    schwannoma = diagnosis("Schwannoma", synonyms=["neurilemmoma"])
    presacral = Region.objects.create(
        name="Presacral space", slug="presacral-space", parent=region_tree["spine"], order=9
    )
    case = make_case(
        slug="case-neutral-tempting",
        title="Sacral chordoma in a 61-year-old man",
        age=61,
        sex="M",
        clinical_history="Low back pain for three months, now with numbness in the saddle area.",
        final_diagnosis=chordoma,
        diagnosis_certainty=Case.Certainty.HISTOLOGY,
        diagnosis_proof="CT-guided biopsy showed physaliferous cells.",
        discussion="Tumours of notochordal origin favour the sacrum. Physaliferous cells are the hallmark.",
        teaching_points="- A destructive midline mass of very high T2 signal in the sacrum suggests it.",
        treatment_outcome="En bloc sacrectomy followed by proton therapy.",
        findings=(),
        regions=[region_tree["spine"], presacral],
        tags=["chordoma", "notochord remnant"],
        differential=[giant_cell, schwannoma],
    )
    Finding.objects.create(
        case=case, modality="MR", order=1, text="A lobulated midline mass destroys the lower sacral segments."
    )
    DifferentialItem.objects.filter(case=case, diagnosis=giant_cell).update(
        rationale="Eccentric rather than midline, which argued against it.", added_by_editors=True
    )
    sagittal = series_create(case=case, label="Sagittal T2", modality="MR")
    result = images_ingest(
        series=sagittal,
        files=[InputFile("chordoma_T2.dcm", dicom_named_chordoma())],
        caption="Chordoma: lobulated mass of very high T2 signal",
    )
    assert not result.rejected
    Annotation.objects.create(
        image=Image.objects.get(pk=result.accepted[0].image_id),
        kind="label",
        x=0.5,
        y=0.5,
        text="chordoma here",
    )
    # A series label naming a differential item passes the label check (which knows only the final
    # diagnosis): the quiz page must still withhold it.
    axial = series_create(case=case, label="Schwannoma protocol, axial", modality="CT")
    result = images_ingest(
        series=axial,
        files=[InputFile("notochordal_sarcoma_axial.png", png_bytes())],
        caption="Giant cell tumour was considered",
    )
    assert not result.rejected
    # A PNG is flagged for an editor's look, and withheld from the public until then: cleared here, so
    # that its bytes are served and checked like the others.
    axial.images.update(reviewed_at=timezone.now())
    # A follow-up study's time label names the treatment, which points to the diagnosis.
    follow_up = series_create(
        case=case,
        label="Post-sacrectomy sagittal T1",
        modality="MR",
        time_label="After sacrectomy and proton therapy, 1 year",
    )
    result = images_ingest(series=follow_up, files=[InputFile("late.dcm", dicom_named_chordoma())])
    assert not result.rejected
    return case
