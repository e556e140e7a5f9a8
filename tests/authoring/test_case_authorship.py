"""A faculty member's own case reads as their own: the source wording only where a source is recorded,
and the author credited on the page and in the citation."""

import re

import pytest

from cases.seed import read_seed, seed_load
from tests.helpers.accounts import make_user

pytestmark = pytest.mark.django_db


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_an_own_case_names_its_author_and_no_source(client, make_case):
    author = make_user("lee", "faculty", first_name="Ana", last_name="Lee")
    case = make_case(slug="own-case", title="Own case", author=author, attribution="", clinical_history="")
    page = text_of(client.get(f"/cases/{case.slug}/").content.decode())
    assert "By Ana Lee" in page
    assert "in the source" not in page and "credited source" not in page
    assert "not for decisions about the care of any patient" in page
    assert "No references." in page and "Not stated." in page
    cite = page[page.index("Cite this case") :]
    assert cite.startswith("Cite this case Ana Lee. “Own case”.")
    assert "Author Ana Lee" in cite and "Source" not in cite


def test_a_case_from_a_source_keeps_the_source_wording_and_credits_its_author(client, db):
    author = make_user("lee", "faculty", first_name="Ana", last_name="Lee")
    seed_load(data=read_seed(), author=author)
    page = text_of(client.get("/cases/back-and-left-leg-pain-47f/").content.decode())
    assert "The source names no references." in page
    assert "This case is rewritten from its credited source" in page
    assert "By Ana Lee, from the source credited" in page
    cite = page[page.index("Cite this case") :]
    assert cite.startswith("Cite this case Ana Lee. “")
    assert "Author Ana Lee Source Case facts from a saved teaching-case web page" in cite


def test_pages_without_a_case_carry_only_the_education_notice(client, seeded):
    page = text_of(client.get("/cases/").content.decode())
    assert "not for decisions about the care of any patient" in page
    assert "credited source" not in page and "in the source" not in page
