"""The editor's admin home lists the cases waiting for review; the publish page sums the case up."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from authoring.models import CaseTransition
from cases.models import Case

pytestmark = pytest.mark.django_db


def submit(case, by, days_ago: int) -> None:
    Case.objects.filter(pk=case.pk).update(status=Case.Status.IN_REVIEW)
    CaseTransition.objects.create(
        case=case,
        from_status="draft",
        to_status="review",
        by=by,
        at=timezone.now() - timedelta(days=days_ago),
    )


@pytest.fixture
def queue(make_case, faculty):
    newer = make_case(title="Newer submission", status=Case.Status.DRAFT, author=faculty)
    older = make_case(title="Older submission", status=Case.Status.DRAFT, author=faculty)
    make_case(title="Still a draft", status=Case.Status.DRAFT, author=faculty)
    make_case(title="Already published")
    submit(newer, faculty, days_ago=1)
    submit(older, faculty, days_ago=5)
    return older, newer


def queue_rows(html: str) -> list[str]:
    table = html[html.index('id="review-queue"') :].split("</table>")[0]
    return re.findall(r'<th scope="row"><a [^>]*>([^<]+)</a>', table)


def test_the_editors_admin_home_lists_cases_in_review_oldest_first(
    client, editor, queue, django_assert_max_num_queries
):
    older, _newer = queue
    client.force_login(editor)
    with django_assert_max_num_queries(12):
        html = client.get("/admin/").content.decode()
    assert queue_rows(html) == ["Older submission", "Newer submission"]
    row = html[html.index("Older submission") :].split("</tr>")[0]
    assert "fac" in row and "%" in row
    assert f'href="/cases/{older.slug}/preview/"' in row
    assert f'href="/admin/cases/case/{older.pk}/workflow/publish/"' in row


def test_faculty_see_no_review_queue(client, faculty, queue):
    client.force_login(faculty)
    assert 'id="review-queue"' not in client.get("/admin/").content.decode()


def test_the_publish_page_sums_up_the_case_and_links_to_its_preview(client, editor, queue):
    older, _ = queue
    client.force_login(editor)
    html = client.get(f"/admin/cases/case/{older.pk}/workflow/publish/").content.decode()
    summary = html[html.index('class="module case-summary"') :]
    assert "Older submission" in summary and "Complete" in summary
    assert f'href="/cases/{older.slug}/preview/"' in summary
    assert f'href="/cases/{older.slug}/quiz/preview/"' in summary
