"""The Atom feeds: valid (the elements RFC 4287 requires, asserted one by one), published cases only, and
never a word of the answer in a title or a summary; entries link to the quiz, not to the revealed page."""

import datetime
import xml.etree.ElementTree as ET

import pytest
from django.utils import timezone

from cases.models import Case
from tests.helpers.leaks import answer_strings, leaks_in
from weekly.schedule import this_week
from weekly.services import weekly_case_schedule

pytestmark = pytest.mark.django_db

ATOM = "http://www.w3.org/2005/Atom"
NS = {"atom": ATOM}
CASES_FEED = "/feeds/cases.atom"
WEEKLY_FEED = "/feeds/case-of-the-week.atom"
WEEK = datetime.timedelta(days=7)


def monday(weeks_from_now: int = 0) -> datetime.date:
    return this_week() + weeks_from_now * WEEK


def rfc3339(text: str) -> datetime.datetime:
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, text
    return parsed


def child_text(element: ET.Element, name: str) -> str:
    found = element.find(f"atom:{name}", NS)
    assert found is not None, f"<{element.tag}> has no atom:{name}"
    assert (found.text or "").strip(), f"atom:{name} is empty"
    return found.text


def parse_feed(client, url: str) -> ET.Element:
    """The feed's root, after checking what RFC 4287 requires of a feed and of each of its entries."""
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{{{ATOM}}}feed"
    child_text(root, "id")
    child_text(root, "title")
    rfc3339(child_text(root, "updated"))
    # An author for the feed, or one in every entry (4.1.1): the feed has its own.
    author = root.find("atom:author", NS)
    assert author is not None
    child_text(author, "name")
    self_link = root.find("atom:link[@rel='self']", NS)
    assert self_link is not None and self_link.get("href").endswith(url)
    ids = []
    for entry in root.findall("atom:entry", NS):
        ids.append(child_text(entry, "id"))
        child_text(entry, "title")
        rfc3339(child_text(entry, "updated"))
        link = entry.find("atom:link", NS)
        assert link is not None and link.get("href")
        assert link.get("rel") in {None, "alternate"}
    assert len(ids) == len(set(ids)), "entry ids must be unique"
    return root


def entries(root: ET.Element) -> list[dict]:
    return [
        {
            "id": entry.find("atom:id", NS).text,
            "title": entry.find("atom:title", NS).text,
            "summary": entry.findtext("atom:summary", "", NS),
            "link": entry.find("atom:link", NS).get("href"),
            "updated": rfc3339(entry.find("atom:updated", NS).text),
        }
        for entry in root.findall("atom:entry", NS)
    ]


def path_of(link: str) -> str:
    assert link.startswith("http://testserver/"), link
    return link.removeprefix("http://testserver")


def test_the_checks_fail_on_a_feed_without_the_required_elements(client, monkeypatch):
    """The validity checks are not blind: an entry written without its elements fails them."""
    from django.utils.feedgenerator import Atom1Feed

    monkeypatch.setattr(Atom1Feed, "add_item_elements", lambda self, handler, item: None)
    Case.objects.create(slug="s", title="t", status=Case.Status.PUBLISHED, published_at=timezone.now())
    with pytest.raises(AssertionError, match="atom:id"):
        parse_feed(client, CASES_FEED)


def test_new_cases_feed_lists_published_cases_newest_first_and_links_to_their_quiz(client, make_case):
    now = timezone.now()
    older = make_case(published_at=now - datetime.timedelta(days=3), age=47, sex="F")
    newer = make_case(published_at=now - datetime.timedelta(days=1))
    draft = make_case(status=Case.Status.DRAFT)
    root = parse_feed(client, CASES_FEED)
    assert root.find("atom:title", NS).text.startswith("New cases")
    found = entries(root)
    assert [path_of(entry["link"]) for entry in found] == [
        f"/cases/{newer.slug}/quiz/",
        f"/cases/{older.slug}/quiz/",
    ]
    assert found[1]["title"] == "New case: 47-year-old, female · MRI"
    assert found[1]["id"] == f"tag:testserver,{older.created_at:%Y-%m-%d}:case/{older.pk}"
    assert draft.slug not in client.get(CASES_FEED).content.decode()


def test_an_entry_keeps_its_id_when_the_slug_is_edited(client, make_case):
    case = make_case()
    before = entries(parse_feed(client, CASES_FEED))[0]["id"]
    Case.objects.filter(pk=case.pk).update(slug="renamed-neutral-slug")
    after = entries(parse_feed(client, CASES_FEED))[0]
    assert after["id"] == before and path_of(after["link"]) == "/cases/renamed-neutral-slug/quiz/"


def test_case_of_the_week_feed_lists_begun_weeks_of_published_cases(client, make_case):
    this, last, next_week, unpublished = make_case(age=30, sex="M"), make_case(), make_case(), make_case()
    weekly_case_schedule(case=this, week_start=monday())
    weekly_case_schedule(case=last, week_start=monday(-1))
    weekly_case_schedule(case=next_week, week_start=monday(1))
    weekly_case_schedule(case=unpublished, week_start=monday(-2))
    Case.objects.filter(pk=unpublished.pk).update(status=Case.Status.DRAFT)
    root = parse_feed(client, WEEKLY_FEED)
    assert path_of(root.find("atom:link[@rel='alternate']", NS).get("href")) == "/case-of-the-week/"
    found = entries(root)
    assert [path_of(entry["link"]) for entry in found] == [
        f"/cases/{this.slug}/quiz/",
        f"/cases/{last.slug}/quiz/",
    ]
    assert [entry["id"] for entry in found] == [
        f"tag:testserver,{monday():%Y-%m-%d}:case-of-the-week",
        f"tag:testserver,{monday(-1):%Y-%m-%d}:case-of-the-week",
    ]
    assert found[0]["title"].startswith("Case of the week from ") and "30-year-old, male" in found[0]["title"]
    body = client.get(WEEKLY_FEED).content.decode()
    assert next_week.slug not in body and unpublished.slug not in body


def test_a_weeks_entry_keeps_its_id_when_an_editor_replaces_its_case(client, make_case):
    first, second = make_case(age=20), make_case(age=70)
    weekly_case_schedule(case=first, week_start=monday())
    before = entries(parse_feed(client, WEEKLY_FEED))
    weekly_case_schedule(case=second, week_start=monday())
    after = entries(parse_feed(client, WEEKLY_FEED))
    assert [entry["id"] for entry in after] == [entry["id"] for entry in before]
    assert "70-year-old" in after[0]["title"] and path_of(after[0]["link"]) == f"/cases/{second.slug}/quiz/"


@pytest.fixture
def named_case(make_case, diagnosis, region_tree):
    """A case whose title, slug-free fields and teaching all name its diagnosis, as a careless edit could."""
    case = make_case(
        slug="case-neutral-feed",
        title="Sacral chordoma in a 61-year-old man",
        age=61,
        sex="M",
        clinical_history="Low back pain for three months, <script>x()</script>with numbness & constipation.",
        final_diagnosis=diagnosis("Chordoma", synonyms=["notochordal sarcoma"]),
        differential=[diagnosis("Giant cell tumour of bone", synonyms=["GCTB"])],
        discussion="Tumours of notochordal origin favour the sacrum.",
        teaching_points="A destructive midline sacral mass of very high T2 signal suggests it.",
        regions=[region_tree["sacrum"]],
        tags=["chordoma"],
    )
    weekly_case_schedule(case=case, week_start=monday())
    return case


@pytest.mark.parametrize("url", [CASES_FEED, WEEKLY_FEED])
def test_no_feed_names_the_diagnosis_in_a_title_or_summary(client, named_case, url):
    strings = answer_strings(named_case)
    assert {
        "Chordoma",
        "notochordal sarcoma",
        "GCTB",
        "Sacral chordoma in a 61-year-old man",
        "Sacrum",
    } <= strings
    content = client.get(url).content
    assert leaks_in(content, strings) == [], "the feed gives the answer away"
    (entry,) = entries(parse_feed(client, url))
    assert entry["title"].endswith("61-year-old, male · MRI")  # no region: a sub-region can be the answer
    # The summary is the history as the quiz shows it: Markdown rendered, then sanitised (no script).
    assert entry["summary"] == "<p>Low back pain for three months, with numbness &amp; constipation.</p>"
    assert path_of(entry["link"]) == "/cases/case-neutral-feed/quiz/"


def test_the_feed_check_finds_the_answer_when_it_is_there(client, named_case):
    """The same check on the revealed case page fails: it is not blind."""
    html = client.get(f"/cases/{named_case.slug}/").content
    assert "Chordoma" in leaks_in(html, answer_strings(named_case))


def test_the_feeds_read_a_fixed_number_of_queries(
    client, make_case, region_tree, django_assert_max_num_queries
):
    for weeks_ago in range(6):
        case = make_case(findings=("MR", "CT"), regions=[region_tree["sacrum"]], tags=["sacrum"])
        weekly_case_schedule(case=case, week_start=monday(-weeks_ago))
    for url in [CASES_FEED, WEEKLY_FEED]:
        # The cases (or the weeks with their cases), then their findings.
        with django_assert_max_num_queries(2):
            assert len(entries(parse_feed(client, url))) == 6


def test_every_page_names_the_new_cases_feed(client):
    html = client.get("/").content.decode()
    assert (
        '<link rel="alternate" type="application/atom+xml" title="New cases" href="/feeds/cases.atom">'
        in html
    )
