"""Every page, for anonymous users and staff, with the seed archive loaded."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

SACRAL = "back-and-left-leg-pain-47f"
AML = "lumbosacral-mri-and-chest-ct"
DISCLAIMER = "For education only — not for decisions about the care of any patient."

PAGES = [
    "/",
    "/cases/",
    "/cases/?region=spine&modality=MR",
    f"/cases/{SACRAL}/",
    f"/cases/{AML}/",
    "/regions/spine/",
    "/regions/sacrum/",
    "/diagnoses/",
    "/diagnoses/chordoma/",
    "/diagnoses/extramedullary-haematopoiesis/",
    "/tags/spine/",
    "/accounts/login/",
]


@pytest.fixture(params=["anonymous", "resident", "faculty", "editor", "admin"])
def any_client(request, client, seeded):
    user = (
        None
        if request.param == "anonymous"
        else request.getfixturevalue(
            {"resident": "resident", "faculty": "faculty", "editor": "editor", "admin": "admin_user"}[
                request.param
            ]
        )
    )
    if user:
        client.force_login(user)
    return client


@pytest.mark.parametrize("url", PAGES)
def test_every_page_answers_and_carries_the_education_disclaimer(any_client, url):
    response = any_client.get(url)
    assert response.status_code == 200
    assert DISCLAIMER in response.content.decode()


def test_unknown_pages_answer_404(client, seeded):
    for url in ["/cases/no-such-case/", "/regions/no-such-region/", "/diagnoses/no-such/", "/tags/no-such/"]:
        assert client.get(url).status_code == 404


def test_no_inline_script_or_style_and_nothing_fetched_from_elsewhere(client, seeded):
    for url in PAGES:
        html = client.get(url).content.decode()
        scripts = re.findall(r"<script[^>]*>", html)
        # Only external modules and inert JSON data blocks: nothing a strict CSP would have to allow inline.
        allowed = ('type="module" src="/static/', 'type="application/json"')
        assert all(any(kind in tag for kind in allowed) for tag in scripts), url
        assert "style=" not in html and "<style" not in html, url
        external = re.findall(r'(?:src|href)="(https?://[^"]+)"', html)
        assert external == [], f"{url} loads {external}"


def test_home_lists_regions_diagnoses_modalities_tags_and_newest(client, seeded):
    html = client.get("/").content.decode()
    assert 'href="/regions/spine/"' in html
    assert 'href="/diagnoses/intraosseous-haemangioma/"' in html
    assert 'href="/cases/?modality=MR"' in html
    assert 'href="/tags/spine/"' in html
    assert f'href="/cases/{SACRAL}/"' in html


def test_case_page_shows_sections_in_teaching_order(client, seeded):
    html = client.get(f"/cases/{SACRAL}/").content.decode()
    headings = [
        "Clinical history",
        "Imaging findings",
        "Differential diagnosis",
        "Final diagnosis",
        "Treatment and outcome",
        "Discussion",
        "Teaching points",
        "References",
        "Cite this case",
    ]
    positions = [html.index(f">{heading}</h2>") for heading in headings]
    assert positions == sorted(positions)
    # Findings grouped by modality in the order of the record.
    groups = [html.index(f"<h3>{label}</h3>") for label in ["Radiograph", "Nuclear medicine", "MRI"]]
    assert groups == sorted(groups)


def test_case_page_marks_the_final_diagnosis_in_the_differential(client, seeded):
    html = client.get(f"/cases/{SACRAL}/").content.decode()
    final_item = re.search(r'<li class="is-final">(.*?)</li>', html, re.S).group(1)
    assert "Intraosseous haemangioma" in final_item
    assert "Final diagnosis" in final_item


def test_unstated_sections_read_not_stated_in_the_source(client, seeded):
    html = client.get(f"/cases/{AML}/").content.decode()
    assert "Age not stated, sex not stated" in html
    treatment = html[html.index('id="treatment"') : html.index('id="discussion"')]
    assert "Not stated in the source." in treatment


def test_editorial_differential_items_are_labelled(client, seeded):
    html = client.get("/cases/acute-back-pain-29m/").content.decode()
    differential = html[html.index('id="differential"') : html.index('id="diagnosis"')]
    # Three editors' additions; the final diagnosis is the source's own, so it carries only its own label.
    assert differential.count("Added by the archive's editors, not in the source") == 3
    final = differential[differential.index('class="is-final"') :].split("</li>")[0]
    assert "Final diagnosis" in final and "Added by the archive's editors" not in final


def test_case_page_links_regions_tags_and_offers_a_citation(client, seeded):
    html = client.get(f"/cases/{AML}/").content.decode()
    assert 'href="/regions/lumbar-spine/"' in html
    assert 'href="/tags/aml/"' in html
    cite = html[html.index('id="cite"') :]
    assert f"http://testserver/cases/{AML}/" in cite
    assert "Medality" in cite
    assert "All Rights Reserved" in cite


def test_related_cases_share_a_diagnosis_or_region(client, seeded):
    html = client.get(f"/cases/{SACRAL}/").content.decode()
    related = html[html.index('id="related"') :]
    # The AML case shares the sacrum region; the thalassaemia case shares neither region nor diagnosis.
    assert f"/cases/{AML}/" in related
    assert "/cases/acute-back-pain-29m/" not in related


def test_diagnosis_page_lists_final_and_differential_cases(client, seeded):
    html = client.get("/diagnoses/extramedullary-haematopoiesis/").content.decode()
    final = html[html.index("Cases with this final diagnosis") : html.index("Cases that considered it")]
    differential = html[html.index("Cases that considered it") :]
    assert "/cases/acute-back-pain-29m/" in final
    assert f"/cases/{AML}/" in differential and f"/cases/{AML}/" not in final
    assert "EMH" in html


def test_editorial_summary_is_labelled_on_the_diagnosis_page(client, seeded):
    html = client.get("/diagnoses/chordoma/").content.decode()
    assert "added by the archive's editors, not from the cited sources" in html


def test_region_page_includes_cases_of_its_sub_regions(client, seeded):
    html = client.get("/regions/spine/").content.decode()
    for slug in [SACRAL, "acute-back-pain-29m", AML]:
        assert f"/cases/{slug}/" in html
    assert 'href="/regions/sacrum/"' in html


def test_tag_page_lists_tagged_cases(client, seeded):
    html = client.get("/tags/thalassaemia/").content.decode()
    assert "/cases/acute-back-pain-29m/" in html
    assert f"/cases/{SACRAL}/" not in html


def test_login_and_logout(client, resident):
    response = client.post(reverse("login"), {"username": "res", "password": "pw-for-tests-only"})
    assert response.status_code == 302
    assert "Log out res" in client.get("/").content.decode()
    assert client.post(reverse("logout")).status_code == 302
    assert "Log in" in client.get("/").content.decode()


def test_login_with_a_wrong_password_says_so(client, resident):
    response = client.post(reverse("login"), {"username": "res", "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
