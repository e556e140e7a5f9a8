"""Cached facet counts and home-page parts: an edit of the archive shows at once, and one user's
cached counts never reach a user who may see less."""

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from authoring.services import case_publish, case_return_to_draft, case_submit_for_review
from cases.caching import archive_changed, archive_version, cache_key, visibility_class
from cases.facet_rows import case_facets_refresh
from cases.models import Case, Diagnosis, Finding
from tests.helpers.archives import small_archive
from tests.helpers.authoring import FAST_HASHERS, complete_case

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def archive(make_case, region_tree, diagnosis):
    return {"chordoma": small_archive(make_case, region_tree, diagnosis), **region_tree}


def facets(client, url: str = "/cases/"):
    response = client.get(url)
    assert response.status_code == 200
    return response.context["facets"]


def counts(values) -> dict[str, int]:
    return {value.value: value.count for value in values}


def queries_of(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def visit(client, *urls: str) -> None:
    """Request pages that keep nothing in the cache, before an edit whose effect the test checks."""
    for url in urls:
        assert client.get(url).status_code == 200


def warm(client, *urls: str) -> None:
    """Request each page twice and check that the second request is served partly from the cache:
    otherwise the tests below would pass without any cache at all."""
    for url in urls:
        cache.clear()
        cold = queries_of(client, url)
        assert queries_of(client, url) < cold, f"{url}: nothing came from the cache"


def test_the_second_request_reads_the_counts_from_the_cache(client, archive):
    warm(client, "/", "/cases/", "/cases/?region=spine&modality=MR")
    assert facets(client).total == 4


def test_publishing_a_case_shows_in_the_counts_at_once(client, archive, faculty, editor):
    warm(client, "/", "/cases/", "/cases/?region=spine")
    before = facets(client)
    assert before.total == 4 and counts(before.regions)["sacrum"] == 3
    case = complete_case(author=faculty)
    case.regions.set([archive["sacrum"]])
    case_submit_for_review(case=case, by=faculty)
    assert facets(client).total == 4  # in review: still not counted for anyone anonymous
    case_publish(case=case, by=editor)
    after = facets(client)
    assert after.total == 5
    assert counts(after.regions)["sacrum"] == 4 and counts(after.regions)["spine"] == 4
    assert facets(client, "/").total == 5
    assert facets(client, "/cases/?region=spine").total == 4
    assert "47-year-old woman with back pain" in client.get("/").content.decode()  # newest cases


def test_unpublishing_a_case_shows_in_the_counts_at_once(client, archive, editor):
    warm(client, "/", "/cases/", "/cases/?modality=CT")
    assert facets(client, "/cases/?modality=CT").total == 1
    case_return_to_draft(case=Case.objects.get(slug="chest-0"), by=editor)
    assert facets(client, "/cases/?modality=CT").total == 0
    home = facets(client, "/")
    assert home.total == 3 and "chest" not in counts(home.regions)
    assert "chest-0" not in client.get("/").content.decode()


def test_moving_a_case_to_another_region_shows_at_once(client, archive):
    warm(client, "/", "/cases/")
    case = Case.objects.get(slug="sacral-0")
    case.regions.set([archive["chest"]])
    regions = counts(facets(client).regions)
    assert regions["sacrum"] == 2 and regions["chest"] == 2
    assert counts(facets(client, "/").regions)["spine"] == 2
    sacrum_row = client.get("/regions/spine/").context["children"]
    assert dict((region.slug, count) for region, count in sacrum_row)["sacrum"] == 2


def test_tags_findings_and_diagnosis_names_show_at_once(client, archive):
    warm(client, "/cases/")
    case = Case.objects.get(slug="sacral-1")
    case.tags.add("classic")
    assert counts(facets(client).tags)["classic"] == 1
    Finding.objects.create(case=case, modality="CT", text="Lysis.", order=2)
    assert counts(facets(client).modalities)["CT"] == 2
    Finding.objects.get(case=case, order=2).delete()
    assert counts(facets(client).modalities)["CT"] == 1
    chordoma = archive["chordoma"]
    chordoma.name = "Chordoma (notochordal)"
    chordoma.save()
    assert [value.label for value in facets(client).diagnoses] == ["Chordoma (notochordal)"]


def test_diagnosis_page_counts_follow_a_publication(client, archive, editor):
    url = f"/diagnoses/{archive['chordoma'].slug}/"
    warm(client, "/cases/")
    assert client.get(url).context["final_count"] == 3
    case_return_to_draft(case=Case.objects.get(slug="sacral-2"), by=editor)
    assert client.get(url).context["final_count"] == 2
    assert counts(facets(client).diagnoses)["chordoma"] == 2


def test_filters_are_part_of_the_key(client, archive):
    assert facets(client, "/cases/?region=spine").total == 3
    assert facets(client, "/cases/?region=chest").total == 1
    assert facets(client, "/cases/?region=spine&sex=M").total == 0
    assert facets(client, "/cases/?sex=M&region=spine").total == 0  # same filters, same entry
    assert facets(client, "/cases/?region=spine&page=2").total == 3  # the page is not a filter


def test_an_editor_s_counts_never_reach_anonymous_visitors(client, archive, editor, make_case):
    make_case(slug="draft-0", status=Case.Status.DRAFT, regions=[archive["sacrum"]], findings=["MR"])
    client.force_login(editor)
    assert facets(client).total == 5  # editors see drafts
    assert facets(client, "/").total == 5
    client.logout()
    assert facets(client).total == 4
    assert facets(client, "/").total == 4
    assert "draft-0" not in client.get("/").content.decode()


def test_anonymous_counts_never_reach_an_editor(client, archive, editor, make_case):
    make_case(slug="draft-0", status=Case.Status.DRAFT, regions=[archive["sacrum"]], findings=["MR"])
    warm(client, "/cases/")
    assert facets(client).total == 4
    client.force_login(editor)
    assert facets(client).total == 5


def test_each_logged_in_user_has_entries_of_their_own(faculty, other_faculty, make_case, archive):
    # A faculty member sees their own drafts; a colleague with the same permissions does not.
    own = make_case(slug="own-draft", status=Case.Status.DRAFT, author=faculty, regions=[archive["chest"]])
    assert visibility_class(faculty) != visibility_class(other_faculty)
    assert cache_key("facets", visibility_class(faculty)) != cache_key(
        "facets", visibility_class(other_faculty)
    )
    author, colleague = Client(), Client()
    author.force_login(faculty)
    colleague.force_login(other_faculty)
    assert facets(author).total == 5
    assert facets(colleague).total == 4
    assert own.slug not in colleague.get("/").content.decode()


def test_bulk_writes_are_retired_by_refreshing_their_cases(client, archive):
    """A write that sends no signal calls ``case_facets_refresh`` and ``archive_changed`` itself (as
    bench/generate.py does): the facet sets, the counts and the cached entries then follow."""
    warm(client, "/cases/", "/cases/?sex=M")
    Diagnosis.objects.bulk_create([Diagnosis(name="Osteoma", slug="osteoma")])
    chest = Case.objects.filter(slug="chest-0")
    chest.update(sex="F")  # no signal: the rows, counts and cached entries stay
    assert counts(facets(client).sexes).get("M") == 1
    assert facets(client, "/cases/?sex=M").total == 1
    case_facets_refresh(case_ids=chest.values_list("pk", flat=True))
    archive_changed()
    assert "M" not in counts(facets(client).sexes)
    assert facets(client, "/cases/?sex=M").total == 0


@pytest.mark.django_db(transaction=True)
def test_the_version_changes_again_when_the_transaction_commits(archive):
    """A request that reads the old rows between the first replacement and the commit stores them
    under the new version; the commit-time replacement retires that entry too."""
    with transaction.atomic():
        Case.objects.get(slug="sacral-0").save()
        Finding.objects.filter(case__slug="sacral-0").first().save()
        during = archive_version()
        stale_key = cache_key("facets", "public")
        cache.set(stale_key, "counted from the rows before the commit")
        assert cache_key("facets", "public") == stale_key
    assert archive_version() != during
    assert cache_key("facets", "public") != stale_key


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_version_changes_at_once(archive):
    before = archive_version()
    Case.objects.filter(slug="chest-0").update(sex="F")
    assert archive_version() == before  # update() sends no signal
    Case.objects.get(slug="chest-0").save()
    assert archive_version() != before


# --- The case page --------------------------------------------------------------------------------


def test_a_finding_edit_shows_on_the_case_page_at_once(client, archive):
    visit(client, "/cases/sacral-0/")
    finding = Finding.objects.get(case__slug="sacral-0", order=1)
    finding.text = "A **lobulated** presacral mass."
    finding.save()
    html = client.get("/cases/sacral-0/").content.decode()
    assert "A <strong>lobulated</strong> presacral mass." in html


def test_an_unpublished_case_answers_404_at_once(client, archive, editor):
    visit(client, "/cases/chest-0/")
    case_return_to_draft(case=Case.objects.get(slug="chest-0"), by=editor)
    assert client.get("/cases/chest-0/").status_code == 404
    # ...and no other case still lists it as related.
    assert "chest-0" not in client.get("/cases/sacral-0/").content.decode()


def test_a_draft_cached_for_an_editor_never_reaches_anyone_else(client, archive, editor, resident, make_case):
    make_case(slug="draft-0", status=Case.Status.DRAFT, regions=[archive["sacrum"]], findings=["MR"])
    client.force_login(editor)
    visit(client, "/cases/draft-0/")
    client.logout()
    assert client.get("/cases/draft-0/").status_code == 404
    client.force_login(resident)
    assert client.get("/cases/draft-0/").status_code == 404


def test_a_new_series_shows_on_the_case_page_at_once(client, archive):
    from imaging.services import series_create

    visit(client, "/cases/sacral-1/")
    series_create(case=Case.objects.get(slug="sacral-1"), label="Sagittal STIR", modality="MR")
    assert "Sagittal STIR" in client.get("/cases/sacral-1/").content.decode()


# --- The rendered pages -----------------------------------------------------------------------------


def result_count(html: str) -> str:
    start = html.index('class="result-count">') + len('class="result-count">')
    return html[start : html.index("</p>", start)]


def test_the_rendered_list_follows_an_edit_at_once(client, archive, editor):
    warm(client, "/cases/?region=spine")
    assert result_count(client.get("/cases/?region=spine").content.decode()).startswith("3 cases")
    Case.objects.get(slug="sacral-0").regions.set([archive["chest"]])
    html = client.get("/cases/?region=spine").content.decode()
    assert result_count(html).startswith("2 cases") and "sacral-0" not in html
    case_return_to_draft(case=Case.objects.get(slug="sacral-1"), by=editor)
    assert result_count(client.get("/cases/?region=spine").content.decode()).startswith("1 case ")


def test_an_editor_s_rendered_list_never_reaches_anonymous_visitors(client, archive, editor, make_case):
    make_case(slug="draft-0", status=Case.Status.DRAFT, regions=[archive["sacrum"]], findings=["MR"])
    client.force_login(editor)
    assert "draft-0" in client.get("/cases/").content.decode()
    assert "draft-0" in client.get("/").content.decode()
    client.logout()
    assert "draft-0" not in client.get("/cases/").content.decode()
    assert "draft-0" not in client.get("/").content.decode()


def test_the_rendered_diagnosis_page_follows_a_publication(client, archive, editor):
    url = f"/diagnoses/{archive['chordoma'].slug}/"
    visit(client, url)
    case_return_to_draft(case=Case.objects.get(slug="sacral-2"), by=editor)
    html = client.get(url).content.decode()
    assert "Cases with this final diagnosis (2)" in html and "sacral-2" not in html


def test_a_search_follows_an_edit_at_once(client, archive):
    url = "/cases/?q=osteopoikilosis"
    warm(client, url)
    assert result_count(client.get(url).content.decode()).startswith("0 cases")
    finding = Finding.objects.get(case__slug="chest-0", order=1)
    finding.text = "Osteopoikilosis of the ribs."
    finding.save()
    html = client.get(url).content.decode()
    assert result_count(html).startswith("1 case ") and "chest-0" in html
    assert "<mark>Osteopoikilosis</mark>" in html  # the snippet is built for the new page


def test_the_case_page_shows_its_own_address_and_its_title_after_an_edit(client, archive):
    visit(client, "/cases/sacral-0/")
    html = client.get("/cases/sacral-0/", HTTP_HOST="localhost").content.decode()
    assert "http://localhost/cases/sacral-0/" in html and "http://testserver/" not in html
    assert "http://testserver/cases/sacral-0/" in client.get("/cases/sacral-0/").content.decode()
    case = Case.objects.get(slug="sacral-0")
    case.title = "Sacral pain, retitled"
    case.save()
    assert "<title>Sacral pain, retitled" in client.get("/cases/sacral-0/").content.decode()


# --- Who sees drafts: the permissions of each request --------------------------------------------


def test_a_resident_made_editor_sees_drafts_at_once_and_loses_them_at_once(
    client, archive, resident, make_case
):
    from django.contrib.auth.models import Group

    make_case(slug="draft-0", status=Case.Status.DRAFT, regions=[archive["sacrum"]], findings=["MR"])
    client.force_login(resident)
    warm(client, "/cases/")
    assert facets(client).total == 4
    resident.groups.add(Group.objects.get(name="editor"))
    assert facets(client).total == 5
    assert "draft-0" in client.get("/cases/").content.decode()
    resident.groups.remove(Group.objects.get(name="editor"))
    assert facets(client).total == 4
    assert "draft-0" not in client.get("/cases/").content.decode()
    assert client.get("/cases/draft-0/").status_code == 404


def test_a_group_given_the_draft_permission_shows_drafts_to_its_members_at_once(
    client, archive, resident, make_case
):
    from django.contrib.auth.models import Group, Permission

    make_case(slug="draft-0", status=Case.Status.DRAFT, regions=[archive["sacrum"]], findings=["MR"])
    client.force_login(resident)
    warm(client, "/cases/")
    Group.objects.get(name="resident").permissions.add(Permission.objects.get(codename="view_draft_case"))
    assert facets(client).total == 5


class DraftsForEveryoneBackend:
    """An authentication backend that grants every user ``view_draft_case`` (see the next tests)."""

    def authenticate(self, request, **credentials):
        return None

    def has_perm(self, user_obj, perm, obj=None):
        return perm == "cases.view_draft_case"


def fresh(user):
    """The user row read again, as each request reads it: nothing remembered on the object."""
    return type(user).objects.get(pk=user.pk)


def test_the_visibility_permissions_are_those_granted_directly_or_through_a_group(
    resident, faculty, editor, admin_user
):
    from django.contrib.auth.models import Group, Permission

    from cases.permissions import VISIBILITY_CODENAMES, case_visibility_permissions
    from tests.conftest import make_user

    direct = make_user("direct")
    direct.user_permissions.add(Permission.objects.get(codename="view_review_case"))
    reviewers = Group.objects.create(name="reviewers")
    reviewers.permissions.add(Permission.objects.get(codename="view_draft_case"))
    both = make_user("both", "faculty")
    both.groups.add(reviewers)
    inactive_editor = make_user("gone", "editor", is_active=False)
    inactive_admin = make_user("gone-root", is_superuser=True, is_active=False)
    staff = make_user("staffer", is_staff=True)
    answers = {}
    for user in (resident, faculty, editor, admin_user, direct, both, inactive_editor, inactive_admin, staff):
        answers[user.username] = case_visibility_permissions(fresh(user))
    assert answers["res"] == answers["staffer"] == answers["gone"] == answers["gone-root"] == set()
    assert answers["fac"] == answers["direct"] == {"view_review_case"}
    assert answers["edi"] == answers["root"] == answers["both"] == set(VISIBILITY_CODENAMES)


def test_another_authentication_backend_is_asked_through_has_perm(settings, resident, make_case):
    from cases.permissions import case_visibility_permissions

    make_case(slug="a-draft", status=Case.Status.DRAFT)
    assert not Case.objects.visible_to(fresh(resident)).filter(slug="a-draft").exists()
    settings.AUTHENTICATION_BACKENDS = [
        "django.contrib.auth.backends.ModelBackend",
        "tests.cases.test_page_cache.DraftsForEveryoneBackend",
    ]
    assert case_visibility_permissions(fresh(resident)) == {"view_draft_case"}
    assert Case.objects.visible_to(fresh(resident)).filter(slug="a-draft").exists()


def test_a_permission_granted_after_the_counts_were_cached_shows_on_the_next_request(
    client, archive, resident, make_case
):
    from django.contrib.auth.models import Permission

    make_case(slug="in-review", status=Case.Status.IN_REVIEW, regions=[archive["sacrum"]], findings=["MR"])
    client.force_login(resident)
    warm(client, "/cases/")
    assert client.get("/cases/in-review/").status_code == 404
    resident.user_permissions.add(Permission.objects.get(codename="view_review_case"))
    assert client.get("/cases/in-review/").status_code == 200
    assert facets(client).total == 5
    resident.user_permissions.clear()
    assert client.get("/cases/in-review/").status_code == 404
    assert facets(client).total == 4


def test_ingested_images_and_arrows_show_on_the_case_page_at_once(client, archive):
    from imaging.demo import SAMPLE_DIR
    from imaging.inputs import InputFile
    from imaging.models import Annotation
    from imaging.services import images_ingest, series_create

    series = series_create(case=Case.objects.get(slug="sacral-0"), label="Axial T1", modality="MR")
    visit(client, "/cases/sacral-0/")
    assert "No images" in client.get("/cases/sacral-0/").content.decode()
    mr = (SAMPLE_DIR / "MR_small.dcm").read_bytes()
    images_ingest(series=series, files=[InputFile(f"{n}.dcm", mr) for n in range(3)])
    html = client.get("/cases/sacral-0/").content.decode()
    assert "No images" not in html and "slice 2 of 3" in html
    Annotation.objects.create(image=series.images.first(), kind="label", x=0.5, y=0.5, text="Lytic focus")
    assert "Lytic focus" in client.get("/cases/sacral-0/").content.decode()
