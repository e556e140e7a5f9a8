"""Before the reveal, ``/case-of-the-week/`` gives nothing away, by the quiz's own rules and checker
(tests/helpers/leaks.py): the page and everything it references (images, the viewer's frames and
values, stylesheets, and the two feeds it links) hold no answer string of this week's case — not its
diagnosis, synonyms, differential, discussion, findings or title — nor do the earlier weeks listed under
it, whose cases can share its diagnosis or name it in their own title.
"""

import datetime
import re

import pytest

from cases.models import Case
from tests.helpers.leaks import answer_strings, assert_quiz_page_leaks_nothing, leaks_in, referenced_urls
from weekly.schedule import this_week
from weekly.services import weekly_case_schedule

pytestmark = pytest.mark.django_db

PAGE = "/case-of-the-week/"
FEEDS = {"/feeds/cases.atom", "/feeds/case-of-the-week.atom"}


def schedule_in_turn(current: Case, earlier: list[Case]) -> None:
    """``current`` this week, the ``earlier`` ones in the weeks before it, most recent first."""
    weekly_case_schedule(case=current, week_start=this_week())
    for weeks_ago, case in enumerate(earlier, start=1):
        weekly_case_schedule(case=case, week_start=this_week() - datetime.timedelta(weeks=weeks_ago))


def test_no_seed_case_as_case_of_the_week_leaks_before_reveal(client, seeded_with_images):
    for current in seeded_with_images:
        earlier = [case for case in seeded_with_images if case != current]
        schedule_in_turn(current, earlier)
        html = client.get(PAGE).content.decode()
        assert set(referenced_urls(html)) >= FEEDS, "the checker must fetch the feeds too"
        assert f'action="/cases/{current.slug}/quiz/"' in html
        # Earlier weeks are listed (their answers a click away), this week's is not among them.
        for case in earlier:
            assert f'href="/cases/{case.slug}/"' in html
        assert f'href="/cases/{current.slug}/"' not in html
        fetched = assert_quiz_page_leaks_nothing(client, current, url=PAGE)
        assert fetched > 5, "the images and feeds were not fetched"


@pytest.fixture
def same_diagnosis_last_week(make_case, tempting_case):
    """Last week's case: the same diagnosis as this week's, and a title that names it."""
    return make_case(
        slug="case-neutral-earlier",
        title="Chordoma of the clivus in a 40-year-old woman",
        age=40,
        sex="F",
        clinical_history="Double vision.",
        final_diagnosis=tempting_case.final_diagnosis,
        discussion="Notochordal tumours occur at both ends of the axial skeleton.",
    )


def test_a_case_built_to_tempt_leaks_gives_nothing_away_as_case_of_the_week(
    client,
    tempting_case,
    same_diagnosis_last_week,
):
    schedule_in_turn(tempting_case, [same_diagnosis_last_week])
    html = client.get(PAGE).content.decode()
    assert 'href="/cases/case-neutral-earlier/"' in html and "40-year-old, female" in html
    # The quiz's withholding applies here too: the tempting series label is replaced, the neutral one stays.
    assert "Sagittal T2" in html and "Series 2" in html and "sacrectomy" not in html.lower()
    also = frozenset({same_diagnosis_last_week.title, "clivus"})
    assert assert_quiz_page_leaks_nothing(client, tempting_case, url=PAGE, also=also) >= 6


def test_the_checker_finds_the_answer_if_the_archive_named_it(
    client, tempting_case, same_diagnosis_last_week
):
    """Were the archive to show its cases' titles, the check would fail: it is not blind to the archive."""
    schedule_in_turn(tempting_case, [same_diagnosis_last_week])
    html = client.get(PAGE).content
    spliced = html.replace(b"40-year-old, female", same_diagnosis_last_week.title.encode())
    assert "Chordoma" in leaks_in(spliced, answer_strings(tempting_case))
    assert leaks_in(html, answer_strings(tempting_case)) == []


def test_the_page_carries_no_inline_script_or_style(client, tempting_case, same_diagnosis_last_week):
    schedule_in_turn(tempting_case, [same_diagnosis_last_week])
    html = client.get(PAGE).content.decode()
    assert "style=" not in html and "<style" not in html
    scripts = re.findall(r"<script[^>]*>", html)
    assert all('src="/static/' in tag or 'type="application/json"' in tag for tag in scripts)
