"""The case editor in the admin: every role on every page, saving safely, the list, reordering."""

import re

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext

from authoring.models import CaseSectionNotStated, CaseTransition
from authoring.services import case_submit_for_review
from cases import facet_rows
from cases.models import Case, CaseFacetSet, CaseSearchDocument, Diagnosis, Finding
from imaging.models import Image, Series, Study
from tests.helpers.authoring import (
    FAST_HASHERS,
    complete_case,
    diagnosis_named,
    form_data,
    new_case_data,
)

pytestmark = pytest.mark.django_db

DRAFT, REVIEW, PUBLISHED = Case.Status.DRAFT, Case.Status.IN_REVIEW, Case.Status.PUBLISHED
ADMIN = "/admin/cases/case/"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture
def cases(faculty, other_faculty):
    """The faculty member's own draft and case in review; a colleague's draft, case in review and
    published case."""
    return {
        "own draft": complete_case(slug="own-draft", author=faculty),
        "own review": complete_case(slug="own-review", author=faculty, status=REVIEW),
        "other draft": complete_case(slug="other-draft", author=other_faculty),
        "other review": complete_case(slug="other-review", author=other_faculty, status=REVIEW),
        "other published": complete_case(slug="other-published", author=other_faculty, status=PUBLISHED),
    }


def change_url(case) -> str:
    return f"{ADMIN}{case.pk}/change/"


def is_editable(response) -> bool:
    return response.status_code == 200 and 'name="_save"' in response.content.decode()


# -- The list ------------------------------------------------------------------------------------------


def listed_slugs(response) -> set[str]:
    return {case.slug for case in response.context["cl"].result_list}


def test_faculty_list_their_own_cases_those_in_review_and_published_ones(client, faculty, cases):
    client.force_login(faculty)
    response = client.get(ADMIN)
    assert response.status_code == 200
    assert listed_slugs(response) == {"own-draft", "own-review", "other-review", "other-published"}


def test_editors_list_every_case(client, editor, cases):
    client.force_login(editor)
    assert listed_slugs(client.get(ADMIN)) == {case.slug for case in cases.values()}


@pytest.mark.parametrize("path", [ADMIN, f"{ADMIN}add/", "/admin/imaging/series/", "/admin/imaging/image/"])
def test_residents_and_anonymous_visitors_have_no_admin(client, resident, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    client.force_login(resident)
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_the_list_filters_by_status_modality_author_and_region(client, editor, faculty, cases, region_tree):
    ct_case = complete_case(slug="ct-case", author=editor)
    Finding.objects.create(case=ct_case, modality="CT", text="A CT finding.", order=2)
    ct_case.regions.set([region_tree["chest"]])
    client.force_login(editor)
    assert listed_slugs(client.get(ADMIN, {"status__exact": REVIEW})) == {"own-review", "other-review"}
    assert listed_slugs(client.get(ADMIN, {"modality": "CT"})) == {"ct-case"}
    assert listed_slugs(client.get(ADMIN, {"author__id__exact": faculty.pk})) == {"own-draft", "own-review"}
    assert listed_slugs(client.get(ADMIN, {"regions__id__exact": region_tree["chest"].pk})) == {"ct-case"}
    assert listed_slugs(client.get(ADMIN, {"q": "ct-case"})) == {"ct-case"}


def admin_list_queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(ADMIN).status_code == 200
    return len(captured)


def test_the_list_shows_completeness_in_a_fixed_number_of_queries(client, editor, make_case):
    complete_case(slug="complete", author=editor)
    client.force_login(editor)
    page = client.get(ADMIN).content.decode()
    # Required sections all there, none of the recommended ones (discussion, references …): 6 of 11.
    assert "55 % · ready" in page
    few = admin_list_queries(client)
    for n in range(10):
        make_case(slug=f"more-{n}", title=f"More {n}", findings=("MR", "CT"), tags=["spine"])
    assert admin_list_queries(client) == few


# -- Adding and changing ---------------------------------------------------------------------------------


def test_faculty_create_a_case_as_its_author_in_draft(client, faculty, other_faculty):
    client.force_login(faculty)
    assert client.get(f"{ADMIN}add/").status_code == 200
    data = new_case_data(author=str(other_faculty.pk), status=PUBLISHED)
    data.update({"findings-TOTAL_FORMS": "1", "findings-0-modality": "MR", "findings-0-text": "Effusion."})
    data["findings-0-order"] = "0"
    response = client.post(f"{ADMIN}add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    case = Case.objects.get(slug="knee-pain-35m")
    assert case.author == faculty  # not the author the form tried to set
    assert case.status == DRAFT  # the status is not a form field
    assert list(case.findings.values_list("order", "text")) == [(1, "Effusion.")]


def test_editors_may_choose_the_author(client, editor, faculty):
    client.force_login(editor)
    response = client.post(f"{ADMIN}add/", new_case_data(author=str(faculty.pk)))
    assert response.status_code == 302
    assert Case.objects.get(slug="knee-pain-35m").author == faculty


@pytest.mark.parametrize(
    ("which", "view", "edit"),
    [
        ("own draft", True, True),
        ("own review", True, False),  # frozen while in review: withdraw it to edit
        ("other draft", False, False),
        ("other review", True, False),
        ("other published", True, False),
    ],
)
def test_faculty_edit_only_their_own_drafts(client, faculty, cases, which, view, edit):
    case = cases[which]
    client.force_login(faculty)
    response = client.get(change_url(case))
    if not view:
        assert response.status_code == 302 and response["Location"] == "/admin/"  # "does not exist"
        return
    assert response.status_code == 200
    assert is_editable(response) is edit
    data = form_data(client.get(change_url(case))) if edit else {**new_case_data(), "title": "Changed"}
    data["title"] = "Changed by faculty"
    response = client.post(change_url(case), data)
    case.refresh_from_db()
    if edit:
        assert response.status_code == 302
        assert case.title == "Changed by faculty"
    else:
        assert response.status_code == 403
        assert case.title != "Changed by faculty"


@pytest.mark.parametrize(
    "which", ["own draft", "own review", "other draft", "other review", "other published"]
)
def test_editors_edit_every_case(client, editor, cases, which):
    case = cases[which]
    client.force_login(editor)
    response = client.get(change_url(case))
    assert is_editable(response)
    data = form_data(response)
    data["title"] = "Changed by the editor"
    assert client.post(change_url(case), data).status_code == 302
    case.refresh_from_db()
    assert case.title == "Changed by the editor" and case.status == cases[which].status


def test_only_editors_delete_cases(client, faculty, editor, cases):
    own = cases["own draft"]
    client.force_login(faculty)
    assert client.get(f"{ADMIN}{own.pk}/delete/").status_code == 403
    assert client.post(f"{ADMIN}{own.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Case.objects.filter(pk=own.pk).exists()
    client.force_login(editor)
    assert client.get(f"{ADMIN}{own.pk}/delete/").status_code == 200
    assert client.post(f"{ADMIN}{own.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Case.objects.filter(pk=own.pk).exists()


def test_posting_a_status_changes_nothing(client, faculty, cases):
    case = cases["own draft"]
    client.force_login(faculty)
    data = form_data(client.get(change_url(case)))
    data["status"] = PUBLISHED
    assert client.post(change_url(case), data).status_code == 302
    case.refresh_from_db()
    assert case.status == DRAFT and case.published_at is None


def test_a_failed_save_keeps_what_was_typed_and_shows_each_error_by_its_field(client, faculty, cases):
    case = cases["own draft"]
    client.force_login(faculty)
    data = form_data(client.get(change_url(case)))
    data.update(
        {
            "title": "A new title the author typed",
            "age": "300",
            "slug": "not a slug!",
            "discussion": "A long discussion the author does not want to lose.",
            "findings-0-text": "",
        }
    )
    response = client.post(change_url(case), data)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert set(form.errors) == {"age", "slug"}
    findings = next(
        f.formset for f in response.context["inline_admin_formsets"] if f.formset.prefix == "findings"
    )
    assert "text" in findings.forms[0].errors
    page = response.content.decode()
    for typed in [
        "A new title the author typed",
        "A long discussion the author does not want to lose.",
        "300",
    ]:
        assert typed in page
    # Each error sits beside its field, and the field points to it.
    for field in ["age", "slug", "findings-0-text"]:
        assert f'<ul class="errorlist" id="id_{field}_error">' in page
        assert re.search(rf'name="{field}"[^>]*aria-describedby="[^"]*id_{field}_error', page, re.S)
    case.refresh_from_db()
    assert case.title == "47-year-old woman with back pain"


# -- Two authors at once -----------------------------------------------------------------------------


def test_a_save_over_someone_elses_newer_save_is_refused_then_allowed_knowingly(
    client, editor, faculty, cases
):
    case = cases["own draft"]
    client.force_login(faculty)
    mine = form_data(client.get(change_url(case)))
    # The editor saves the same case in between.
    client.force_login(editor)
    theirs = form_data(client.get(change_url(case)))
    theirs["discussion"] = "The editor's discussion."
    assert client.post(change_url(case), theirs).status_code == 302

    client.force_login(faculty)
    mine["discussion"] = "The author's discussion."
    response = client.post(change_url(case), mine)
    assert response.status_code == 200
    page = response.content.decode()
    assert "after you opened it" in page and "Nothing of yours has been saved" in page
    assert f"saved by {editor}" in page
    assert "The author&#x27;s discussion." in page  # what the author typed is still in the form
    case.refresh_from_db()
    assert case.discussion == "The editor's discussion."

    # Having been told, the author saves again on purpose: the form now carries the current version.
    again = form_data(response)
    response = client.post(change_url(case), again)
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.discussion == "The author's discussion."


def test_a_workflow_step_in_between_also_counts_as_a_newer_save(client, faculty, editor, cases):
    case = cases["own draft"]
    client.force_login(editor)
    stale = form_data(client.get(change_url(case)))
    case_submit_for_review(case=case, by=faculty)
    stale["title"] = "Stale edit"
    response = client.post(change_url(case), stale)
    assert response.status_code == 200 and "after you opened it" in response.content.decode()
    case.refresh_from_db()
    assert case.title != "Stale edit"


def test_a_form_without_its_loaded_version_is_not_trusted(client, faculty, cases):
    case = cases["own draft"]
    client.force_login(faculty)
    data = form_data(client.get(change_url(case)))
    del data["loaded_updated_at"]
    response = client.post(change_url(case), data)
    assert response.status_code == 200 and "after you opened it" in response.content.decode()


# -- Rows in order -------------------------------------------------------------------------------------


def test_rows_swap_their_order_and_new_rows_go_last(client, faculty, cases):
    case = cases["own draft"]
    Finding.objects.create(case=case, modality="CT", text="Second finding.", order=2)
    client.force_login(faculty)
    data = form_data(client.get(change_url(case)))
    assert data["findings-TOTAL_FORMS"] == "2"
    data["findings-0-order"], data["findings-1-order"] = "2", "1"
    data.update(
        {
            "findings-TOTAL_FORMS": "3",
            "findings-2-modality": "US",
            "findings-2-text": "Third, added.",
            "findings-2-order": "0",
            "findings-2-case": str(case.pk),
        }
    )
    response = client.post(change_url(case), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    assert list(case.findings.order_by("order").values_list("text", flat=True)) == [
        "Second finding.",
        "A lobulated sacral mass.",
        "Third, added.",
    ]


def test_a_save_with_new_rows_refreshes_the_facets_and_search_document_once_with_every_row(
    client, faculty, cases, monkeypatch
):
    case = cases["own draft"]
    computed = []
    rows_of = facet_rows.rows_of
    monkeypatch.setattr(facet_rows, "rows_of", lambda ids, *args: computed.append(ids) or rows_of(ids, *args))
    client.force_login(faculty)
    data = form_data(client.get(change_url(case)))
    data.update(
        {
            "findings-TOTAL_FORMS": "3",
            **{
                f"findings-{n}-{field}": value
                for n in (1, 2)
                for field, value in {
                    "modality": "US" if n == 1 else "CT",
                    "text": f"Row {n}, added.",
                    "order": "0",
                    "case": str(case.pk),
                }.items()
            },
        }
    )
    response = client.post(change_url(case), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    assert computed == [[case.pk]]
    keys = CaseFacetSet.objects.get(case=case).keys
    assert {key for key in keys if key.startswith("modality:")} == {
        f"modality:{m}" for m in ("MR", "US", "CT")
    }
    assert "row 2 added" in CaseSearchDocument.objects.get(case=case).findings.lower()


def test_two_rows_with_the_same_order_are_an_error_not_a_crash(client, faculty, cases):
    case = cases["own draft"]
    Finding.objects.create(case=case, modality="CT", text="Second finding.", order=2)
    client.force_login(faculty)
    data = form_data(client.get(change_url(case)))
    data["findings-1-order"] = "1"
    response = client.post(change_url(case), data)
    assert response.status_code == 200
    assert "Please correct the duplicate data for order" in response.content.decode()


# -- Editors' mark: history not stated in the source -----------------------------------------------------


def test_editors_tick_history_not_stated_faculty_cannot(client, faculty, editor, cases):
    case = cases["own draft"]
    case.clinical_history = ""
    case.save()
    client.force_login(faculty)
    data = form_data(client.get(change_url(case)))
    data["history_not_stated"] = "on"
    assert client.post(change_url(case), data).status_code == 302
    assert not CaseSectionNotStated.objects.exists()  # the field is disabled for faculty

    client.force_login(editor)
    data = form_data(client.get(change_url(case)))
    data["history_not_stated"] = "on"
    assert client.post(change_url(case), data).status_code == 302
    assert CaseSectionNotStated.objects.get(case=case).by == editor
    data = form_data(client.get(change_url(case)))
    data["clinical_history"] = "Now the history is known."
    response = client.post(change_url(case), data)
    assert response.status_code == 200
    assert "clear it, or untick this box" in response.content.decode()


# -- The change form's tools ---------------------------------------------------------------------------


def test_change_form_offers_preview_versions_series_and_the_allowed_steps(client, faculty, editor, cases):
    case = cases["own draft"]
    client.force_login(faculty)
    page = client.get(change_url(case)).content.decode()
    assert f'href="/cases/{case.slug}/preview/"' in page
    assert f'href="{ADMIN}{case.pk}/versions/"' in page
    assert f'href="{ADMIN}{case.pk}/workflow/submit/"' in page
    assert "/workflow/publish/" not in page
    series = Series.objects.get(study__case=case)
    assert f'href="/admin/imaging/series/{series.pk}/change/"' in page
    assert f'href="/admin/imaging/series/add/?study={series.study_id}"' in page
    assert "Nothing is missing for publication." in page

    review = cases["other review"]
    client.force_login(editor)
    page = client.get(change_url(review)).content.decode()
    assert f'href="{ADMIN}{review.pk}/workflow/publish/"' in page
    assert f'href="{ADMIN}{review.pk}/workflow/return/"' in page
    assert "Return to the author (draft)" in page


def test_the_change_form_lists_what_publication_still_needs(client, faculty):
    client.force_login(faculty)
    client.post(f"{ADMIN}add/", new_case_data())
    case = Case.objects.get(slug="knee-pain-35m")
    page = client.get(change_url(case)).content.decode()
    assert "missing at least one imaging finding" in page
    assert "missing a final diagnosis" in page
    assert "% complete" in page or "%</strong> complete" in page


# -- Transition pages ----------------------------------------------------------------------------------


def transition(client, case, step, note=""):
    return client.post(f"{ADMIN}{case.pk}/workflow/{step}/", {"note": note})


def test_faculty_submit_and_withdraw_their_own_case_through_the_pages(client, faculty, cases):
    case = cases["own draft"]
    client.force_login(faculty)
    assert client.get(f"{ADMIN}{case.pk}/workflow/submit/").status_code == 200
    response = transition(client, case, "submit", "Please review.")
    assert response.status_code == 302 and response["Location"] == change_url(case)
    case.refresh_from_db()
    assert case.status == REVIEW
    assert client.get(f"{ADMIN}{case.pk}/workflow/publish/").status_code == 403
    assert transition(client, case, "publish").status_code == 403
    assert transition(client, case, "return", "Not yet.").status_code == 302
    case.refresh_from_db()
    assert case.status == DRAFT
    assert list(CaseTransition.objects.values_list("note", flat=True)) == ["Please review.", "Not yet."]


@pytest.mark.parametrize(
    ("which", "step", "status"),
    [("other draft", "submit", 404), ("other review", "return", 403), ("other published", "return", 403)],
)
def test_faculty_cannot_move_colleagues_cases(client, faculty, cases, which, step, status):
    case = cases[which]
    client.force_login(faculty)
    assert client.get(f"{ADMIN}{case.pk}/workflow/{step}/").status_code == status
    assert transition(client, case, step).status_code == status
    case.refresh_from_db()
    assert case.status == cases[which].status


def test_editors_publish_and_unpublish_through_the_pages(client, editor, cases):
    case = cases["other review"]
    client.force_login(editor)
    assert transition(client, case, "publish", "Lovely.").status_code == 302
    case.refresh_from_db()
    assert case.status == PUBLISHED
    page = client.get(change_url(case)).content.decode()
    assert "Unpublish (back to draft)" in page and "Lovely." in page
    assert transition(client, case, "return", "A correction.").status_code == 302
    case.refresh_from_db()
    assert case.status == DRAFT


def test_publishing_an_incomplete_case_shows_what_is_missing(client, editor):
    case = Case.objects.create(slug="half", title="Half a case", status=REVIEW)
    client.force_login(editor)
    page = client.get(f"{ADMIN}{case.pk}/workflow/publish/").content.decode()
    assert "This case cannot be published yet" in page and "missing a final diagnosis" in page
    response = transition(client, case, "publish")
    assert response.status_code == 200
    assert "Cannot publish: missing the clinical history" in response.content.decode()
    case.refresh_from_db()
    assert case.status == REVIEW


def test_residents_reach_no_transition_page(client, resident, cases):
    client.force_login(resident)
    response = transition(client, cases["own draft"], "submit")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_an_unknown_step_is_404(client, editor, cases):
    client.force_login(editor)
    assert client.get(f"{ADMIN}{cases['own draft'].pk}/workflow/approve/").status_code == 404


# -- Series, images and diagnoses from the case page ----------------------------------------------------


def test_faculty_add_series_from_the_case_and_editors_alone_clear_image_flags(client, faculty, editor, cases):
    case = cases["own draft"]
    study = Study.objects.get(case=case)
    client.force_login(faculty)
    response = client.get(f"/admin/imaging/series/add/?study={study.pk}")
    assert response.status_code == 200
    assert response.context["adminform"].form.initial["study"] == str(study.pk)
    image = Image.objects.get(series__study=study)
    assert client.get(f"/admin/imaging/image/{image.pk}/change/").status_code == 200
    Image.objects.update(needs_review=True)
    clear = {"action": "clear_flag", "_selected_action": [image.pk]}
    client.post("/admin/imaging/image/", clear)
    image.refresh_from_db()
    assert image.reviewed_at is None
    client.force_login(editor)
    client.post("/admin/imaging/image/", clear)
    image.refresh_from_db()
    assert image.reviewed_by == editor


def test_the_add_diagnosis_popup_works_without_inline_script(client, faculty):
    client.force_login(faculty)
    add = "/admin/cases/diagnosis/add/?_to_field=id&_popup=1"
    assert client.get(add).status_code == 200
    response = client.post(
        add,
        {
            "name": "Osteoid osteoma",
            "slug": "osteoid-osteoma",
            "synonyms": "osteoid osteoma of bone, OO\nnidus lesion",
            "_popup": "1",
            "_to_field": "id",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    created = Diagnosis.objects.get(name="Osteoid osteoma")
    assert created.synonyms == ["osteoid osteoma of bone", "OO", "nidus lesion"]  # typed as a list
    assert created.accepted_answers == []
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.S)
    assert scripts and all(body.strip() == "" for body in scripts)  # external scripts only
    assert "popup_response.js" in page


def test_autocomplete_finds_diagnoses_and_regions_for_faculty(client, faculty, region_tree):
    diagnosis_named("Chordoma")
    client.force_login(faculty)
    found = client.get(
        "/admin/autocomplete/",
        {"term": "chor", "app_label": "cases", "model_name": "case", "field_name": "final_diagnosis"},
    ).json()
    assert [item["text"] for item in found["results"]] == ["Chordoma"]
    found = client.get(
        "/admin/autocomplete/",
        {"term": "sac", "app_label": "cases", "model_name": "case", "field_name": "regions"},
    ).json()
    assert [item["text"] for item in found["results"]] == ["Sacrum"]


def test_demo_roles_still_hold_what_the_editor_needs(db):
    faculty = set(Group.objects.get(name="faculty").permissions.values_list("codename", flat=True))
    editor = set(Group.objects.get(name="editor").permissions.values_list("codename", flat=True))
    assert {"add_case", "change_case", "view_review_case", "add_diagnosis"} <= faculty
    assert "publish_case" not in faculty and "delete_case" not in faculty
    assert {"publish_case", "delete_case", "view_draft_case"} <= editor
