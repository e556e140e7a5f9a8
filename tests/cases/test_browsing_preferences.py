"""Browsing as a resident would: diagnoses hidden on request, modality names readers use, a quiz link on
every case page, an icon for the browser tab."""

import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db

SACRAL = "back-and-left-leg-pain-47f"


def body_class(html: str) -> str:
    return re.search(r"<body([^>]*)>", html).group(1)


def test_hide_diagnoses_is_remembered_for_the_visitor_and_hides_every_diagnosis_on_browsing_pages(
    client, seeded
):
    page = client.get("/cases/").content.decode()
    assert "hide-diagnoses" not in body_class(page)
    assert 'class="card-diagnosis spoiler">Intraosseous haemangioma' in page
    assert 'name="hide" value="1"' in page and ">Hide diagnoses</button>" in page
    response = client.post("/preferences/hide-diagnoses/", {"hide": "1", "next": "/cases/?modality=MR"})
    assert response.status_code == 302 and response["Location"] == "/cases/?modality=MR"
    for url in ("/", "/cases/", "/regions/spine/", "/tags/spine/"):
        page = client.get(url).content.decode()
        assert 'class="hide-diagnoses"' in body_class(page), url
        assert ">Show diagnoses</button>" in page, url
    # Every diagnosis a browsing page shows sits in an element the style sheet hides.
    page = client.get("/cases/").content.decode()
    for name in ("Intraosseous haemangioma", "Leukaemic infiltration"):
        for match in re.finditer(re.escape(name), page):
            before = page[: match.start()]
            opened = before.rfind('class="card-diagnosis spoiler"'), before.rfind('<div class="spoiler">')
            assert max(opened) > before.rfind("</article>"), name
    client.post("/preferences/hide-diagnoses/", {"hide": "0", "next": "/"})
    assert "hide-diagnoses" not in body_class(client.get("/").content.decode())


def test_the_switch_sends_nobody_elsewhere_and_takes_only_post(client, seeded):
    response = client.post("/preferences/hide-diagnoses/", {"hide": "1", "next": "https://evil.example/"})
    assert response["Location"] == "/"
    assert client.get("/preferences/hide-diagnoses/").status_code == 405


def test_cards_and_filters_use_the_same_modality_names(client, seeded):
    page = client.get("/cases/").content.decode()
    chips = re.findall(r'<li class="chip chip-modality">([^<]+)</li>', page)
    assert "MRI" in chips and "MR" not in chips and "Nuclear medicine" in chips and "Radiograph" in chips
    facet = page[page.index('id="facet-modality"') :]
    assert ">MRI <span" in facet.split("</section>")[0].replace("\n", "").replace("  ", "")


def test_every_case_page_links_to_its_quiz(client, seeded):
    page = client.get(f"/cases/{SACRAL}/").content.decode()
    assert f'href="/cases/{SACRAL}/quiz/">Test yourself on this case</a>' in page


def test_the_browser_finds_an_icon(client, seeded):
    page = client.get("/").content.decode()
    icon = re.search(r'<link rel="icon" href="([^"]+)"', page).group(1)
    assert icon.endswith("favicon.svg") and finders.find("favicon.svg")
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.ico")
    assert finders.find("favicon.ico")


def test_the_case_list_folds_its_filters_behind_one_button(client, seeded):
    page = client.get("/cases/").content.decode()
    assert '<details class="filters-panel" data-open-on-wide>' in page
    assert page.index('<summary class="filters-summary">Filters') < page.index('id="facet-region"')
    assert "js/filters.js" in page
