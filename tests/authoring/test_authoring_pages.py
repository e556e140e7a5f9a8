"""The staff preview, and what authors type reaching the case page only as safe HTML."""

from html.parser import HTMLParser

import pytest

from cases.models import Case, DifferentialItem, Finding, Reference
from tests.helpers.authoring import FAST_HASHERS, complete_case, diagnosis_named, form_data

pytestmark = pytest.mark.django_db

DRAFT, REVIEW, PUBLISHED = Case.Status.DRAFT, Case.Status.IN_REVIEW, Case.Status.PUBLISHED


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


# -- Preview -------------------------------------------------------------------------------------------


@pytest.fixture
def cases(faculty, other_faculty):
    return {
        "own draft": complete_case(slug="own-draft", author=faculty),
        "other draft": complete_case(slug="other-draft", author=other_faculty),
        "other review": complete_case(slug="other-review", author=other_faculty, status=REVIEW),
        "published": complete_case(slug="published", author=other_faculty, status=PUBLISHED),
    }


def preview(client, case):
    return client.get(f"/cases/{case.slug}/preview/")


def test_anonymous_visitors_are_sent_to_log_in(client, cases):
    response = preview(client, cases["published"])
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/cases/published/preview/"


@pytest.mark.parametrize("which", ["own draft", "other draft", "other review", "published"])
def test_residents_get_404_for_every_preview(client, resident, cases, which):
    client.force_login(resident)
    assert preview(client, cases[which]).status_code == 404


@pytest.mark.parametrize(
    ("which", "status"), [("own draft", 200), ("other draft", 404), ("other review", 200), ("published", 200)]
)
def test_faculty_preview_what_the_visibility_rule_lets_them_see(client, faculty, cases, which, status):
    client.force_login(faculty)
    assert preview(client, cases[which]).status_code == status


@pytest.mark.parametrize("which", ["own draft", "other draft", "other review", "published"])
def test_editors_preview_every_case(client, editor, cases, which):
    client.force_login(editor)
    assert preview(client, cases[which]).status_code == 200


def test_the_preview_is_the_resident_page_with_a_banner(client, faculty, cases):
    case = cases["own draft"]
    client.force_login(faculty)
    page = preview(client, case).content.decode()
    assert "Preview — not published" in page
    assert f'href="/admin/cases/case/{case.pk}/change/"' in page
    # The teaching page itself: every section in order, the final diagnosis, the differential.
    for text in [
        "Clinical history",
        "Back pain for seven weeks.",
        "A lobulated sacral mass.",
        "Giant cell tumour",
    ]:
        assert text in page
    assert page.index('id="history"') < page.index('id="findings"') < page.index('id="differential"')
    published = preview(client, cases["published"]).content.decode()
    assert "Preview — this is the published page" in published and "not published" not in published


# -- Markdown and plain text stay inert ------------------------------------------------------------------

ATTACKS = "\n\n".join(
    [
        "<script>alert('script')</script>",
        '<img src="x" onerror="alert(1)">',
        "[a link](javascript:alert(1))",
        '<a href="JaVaScRiPt:alert(1)" onclick="alert(2)">mixed case</a>',
        "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![image](javascript:alert(1))",
        '<p style="position:fixed;top:0;left:0">overlay</p>',
        '<iframe src="https://example.org/"></iframe>',
        "<svg onload=alert(1)><circle r=1></circle></svg>",
        '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
        '<form action="javascript:alert(1)"><button>go</button></form>',
        "<object data='x.swf'></object><embed src='x.swf'>",
        '"><script>alert("break out")</script>',
    ]
)
MARKDOWN_FIELDS = [
    "clinical_history",
    "discussion",
    "teaching_points",
    "treatment_outcome",
    "diagnosis_proof",
]
PLAIN_FIELDS = ["attribution", "licence"]


class SafetyChecker(HTMLParser):
    """Collects whatever in a page could run script or restyle it (the viewer's empty overlay
    ``<svg class="overlay">`` and its JSON data block are the page's own)."""

    UNSAFE_TAGS = {"iframe", "object", "embed", "svg", "math", "base", "meta", "link", "style"}

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self.in_body = False

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self.in_body = True
        if not self.in_body:
            return
        attributes = dict(attrs)
        own_script = (attributes.get("src") or "").startswith("/static/")
        if tag == "script" and not own_script and attributes.get("type") != "application/json":
            self.problems.append(f"script without a static source: {attrs}")
        if tag in self.UNSAFE_TAGS and not (tag == "svg" and dict(attrs).get("class") == "overlay"):
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            lowered = (value or "").strip().lower().replace("\t", "").replace("\n", "")
            if name.startswith("on"):
                self.problems.append(f"event handler {name} on <{tag}>")
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>")
            if name in {"href", "src", "action", "data", "xlink:href", "formaction"} and (
                lowered.startswith("javascript:") or lowered.startswith("data:")
            ):
                self.problems.append(f"{name}={value!r} on <{tag}>")
            if tag == "form" and name == "action" and lowered not in {"/cases/", "/accounts/logout/"}:
                self.problems.append(f"form posting to {value!r}")


def unsafe_parts(page: str) -> list[str]:
    checker = SafetyChecker()
    checker.feed(page)
    return checker.problems


@pytest.fixture
def hostile_case(editor):
    case = complete_case(slug="hostile", status=PUBLISHED, author=editor, title="Hostile <b>title</b>")
    for field in MARKDOWN_FIELDS + PLAIN_FIELDS:
        setattr(case, field, f"MARK-{field}\n\n{ATTACKS}"[: Case._meta.get_field(field).max_length])
    case.save()
    Finding.objects.filter(case=case).update(text=f"MARK-finding\n\n{ATTACKS}", study='"><script>x</script>')
    item = DifferentialItem.objects.filter(case=case).first()
    item.rationale = f"MARK-rationale\n\n{ATTACKS}"
    item.save()
    Reference.objects.create(case=case, citation=f"MARK-citation {ATTACKS}", order=1)
    return case


def test_a_clean_case_page_passes_the_checker(client):
    complete_case(slug="clean", status=PUBLISHED)
    assert unsafe_parts(client.get("/cases/clean/").content.decode()) == []


def test_the_checker_catches_what_it_looks_for():
    assert (
        len(unsafe_parts('<body><a href=" javascript:x" onclick="y" style="z">a</a><script>1</script>')) == 4
    )


@pytest.mark.parametrize("path", ["/cases/hostile/", "/cases/hostile/preview/"])
def test_no_markdown_field_can_inject_script_handlers_unsafe_urls_or_style(
    client, editor, hostile_case, path
):
    client.force_login(editor)
    page = client.get(path).content.decode()
    for marker in [
        "clinical_history",
        "discussion",
        "teaching_points",
        "treatment_outcome",
        "diagnosis_proof",
    ]:
        assert f"MARK-{marker}" in page  # every field was rendered …
    for marker in ["finding", "rationale", "citation", "attribution", "licence"]:
        assert f"MARK-{marker}" in page
    assert unsafe_parts(page) == []  # … and none of it can act
    assert "Hostile &lt;b&gt;title&lt;/b&gt;" in page


def test_a_harmless_markdown_link_and_emphasis_survive(client):
    complete_case(
        slug="friendly", status=PUBLISHED, discussion="See **this** [paper](https://example.org/p)."
    )
    page = client.get("/cases/friendly/").content.decode()
    assert "<strong>this</strong>" in page
    assert 'href="https://example.org/p"' in page and 'rel="noopener noreferrer nofollow"' in page


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://files.example/paper.pdf", "data:text/html,x"])
def test_the_editor_refuses_a_reference_url_that_is_not_http_or_https(client, faculty, url):
    case = complete_case(author=faculty)
    diagnosis_named("Metastasis")
    client.force_login(faculty)
    data = form_data(client.get(f"/admin/cases/case/{case.pk}/change/"))
    data.update(
        {
            "references-TOTAL_FORMS": "1",
            "references-0-citation": "A paper.",
            "references-0-url": url,
            "references-0-order": "1",
            "references-0-case": str(case.pk),
        }
    )
    response = client.post(f"/admin/cases/case/{case.pk}/change/", data)
    assert response.status_code == 200
    assert not Reference.objects.exists()
