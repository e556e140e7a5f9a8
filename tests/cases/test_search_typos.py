"""Typo tolerance and "did you mean", on every database: pg_trgm on PostgreSQL, rapidfuzz elsewhere,
under one rule — only words of the published archive are ever offered."""

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from cases.models import Case, SearchTerm
from cases.search import case_search_parse, search_vocabulary_refresh
from tests.helpers.search import AML, SACRAL, THALASSAEMIA, found

pytestmark = pytest.mark.django_db


def suggestion(client, q: str, **filters) -> str | None:
    html = client.get("/cases/", {"q": q, **filters}).content.decode()
    start = html.find('<p class="did-you-mean">')
    return None if start < 0 else html[start : html.index("</p>", start)]


@pytest.mark.parametrize(
    ("typo", "slug"),
    [("hemangoma", SACRAL), ("haemangioma sacrun", SACRAL), ("thalasemia", THALASSAEMIA), ("leukimia", AML)],
)
def test_a_small_typo_still_finds_the_case(client, seeded, typo, slug):
    assert found(client, typo) == [slug]


def test_did_you_mean_offers_the_corrected_query_and_keeps_the_filters(client, seeded):
    offered = suggestion(client, "hemangoma sacrum", region="spine")
    assert offered is not None
    assert 'href="?q=hemangioma+sacrum&amp;region=spine"' in offered
    assert ">hemangioma sacrum</a>" in offered


def test_no_suggestion_for_known_words_or_their_plurals(client, seeded):
    assert suggestion(client, "haemangioma sacrum") is None
    assert suggestion(client, "haemangiomas") is None
    assert found(client, "haemangiomas") == [SACRAL]


def test_a_typo_combines_with_filters(client, seeded):
    assert found(client, "chordona", region="sacrum") == [SACRAL]
    assert found(client, "chordona", region="chest") == []


def test_words_of_unpublished_cases_are_never_suggested(client, make_case, editor):
    case = make_case(slug="draft", status=Case.Status.DRAFT, discussion="A xanthogranuloma of bone.")
    assert not SearchTerm.objects.filter(word="xanthogranuloma").exists()
    assert suggestion(client, "xanthogranulma") is None
    client.force_login(editor)
    assert found(client, "xanthogranuloma") == ["draft"]  # the draft is searchable by those who may see it
    assert suggestion(client, "xanthogranulma") is None  # but its words are offered to nobody
    client.logout()
    case.status, case.published_at = Case.Status.PUBLISHED, timezone.now()
    case.save()
    assert "xanthogranuloma" in suggestion(client, "xanthogranulma")
    assert found(client, "xanthogranulma") == ["draft"]


def test_a_word_only_in_a_draft_is_not_suggested_even_from_a_stale_vocabulary(client, make_case):
    make_case(slug="draft", status=Case.Status.DRAFT, discussion="A xanthogranuloma of bone.")
    make_case(slug="published", discussion="A fibroxanthoma of bone.")
    # However the word got into the vocabulary (an older release, a bulk load, a bug), it is not offered.
    SearchTerm.objects.create(word="xanthogranuloma", stem="xanthogranuloma")
    assert suggestion(client, "xanthogranulma") is None
    assert "fibroxanthoma" in suggestion(client, "fibroxanthma")  # the published word still is


def test_a_surname_deleted_from_a_published_case_is_never_suggested_again(client, make_case):
    case = make_case(slug="sacral", discussion="Reported by Dr Wetherspoon; a sacral chordoma.")
    assert "wetherspoon" in suggestion(client, "wetherspon")
    case.discussion = "A sacral chordoma."
    case.save()
    assert SearchTerm.objects.filter(word="wetherspoon").exists()  # the vocabulary row is stale …
    assert suggestion(client, "wetherspon") is None  # … and never offered
    assert found(client, "wetherspon") == []
    assert "chordoma" in suggestion(client, "chordma")


def test_a_word_stops_being_suggested_as_soon_as_its_case_is_unpublished(client, make_case, editor):
    case = make_case(slug="once-published", discussion="A xanthogranuloma of bone.")
    assert "xanthogranuloma" in suggestion(client, "xanthogranulma")
    case.status, case.published_at = Case.Status.DRAFT, None
    case.save()
    assert suggestion(client, "xanthogranulma") is None
    # Nor for those who may see the draft: suggestions are only ever words of the published archive.
    client.force_login(editor)
    assert suggestion(client, "xanthogranulma") is None


def test_a_word_of_a_second_published_case_is_still_suggested_after_the_first_goes(client, make_case):
    first = make_case(slug="first", discussion="A xanthogranuloma of bone.")
    make_case(slug="second", findings=(), discussion="Another xanthogranuloma, in the sacrum.")
    first.status, first.published_at = Case.Status.DRAFT, None
    first.save()
    assert "xanthogranuloma" in suggestion(client, "xanthogranulma")


def test_diagnosis_names_are_suggested_only_once_a_published_case_names_them(make_case, diagnosis):
    osteoblastoma = diagnosis("Osteoblastoma", synonyms=["giant osteoid osteoma"])
    assert case_search_parse(text="osteoblastma").suggestion == ""  # a diagnosis alone is not public
    draft = make_case(status=Case.Status.DRAFT, final_diagnosis=osteoblastoma)
    assert case_search_parse(text="osteoblastma").suggestion == ""
    make_case(differential=[osteoblastoma])  # published, with it in the differential
    assert case_search_parse(text="osteoblastma").suggestion == "osteoblastoma"
    draft.delete()
    Case.objects.filter(differential_items__diagnosis=osteoblastoma).update(status=Case.Status.DRAFT)
    # An update() that no signal sees: the check reads the status itself, when the query runs.
    assert case_search_parse(text="osteoblastma").suggestion == ""


def test_only_the_published_form_of_a_word_is_offered_not_a_stale_one_of_the_same_stem(make_case):
    make_case(discussion="A fibroxanthoma of bone.")
    SearchTerm.objects.create(word="fibroxanthomas", stem="fibroxanthoma")  # since edited out
    assert case_search_parse(text="fibroxanthomass").suggestion == "fibroxanthoma"


def test_a_word_known_only_to_the_stale_vocabulary_is_not_taken_as_known(make_case):
    """A typed word counts as known (and so is not corrected) only if a published case has it: a
    stale vocabulary row makes no difference, so what gets corrected reveals nothing about it."""
    make_case(discussion="A fibroxanthoma of bone.")
    SearchTerm.objects.create(word="fibroxanthomas", stem="fibroxanthoma")
    assert case_search_parse(text="fibroxanthomx").suggestion == "fibroxanthoma"
    SearchTerm.objects.create(word="fibroxanthomx", stem="fibroxanthomx")
    assert case_search_parse(text="fibroxanthomx").suggestion == "fibroxanthoma"


def test_the_vocabulary_is_filled_by_a_task_worker_not_by_the_save(settings, make_case):
    """With the database queue, a published case's words wait for a worker; the search does not."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    make_case(slug="queued", discussion="A xanthogranuloma of bone.")
    assert not SearchTerm.objects.filter(word="xanthogranuloma").exists()
    assert case_search_parse(text="xanthogranulma").suggestion == ""
    assert case_search_parse(text="xanthogranuloma").groups  # searchable at once
    queued = [
        search_vocabulary_refresh.get_result(str(pk))
        for pk in DBTaskResult.objects.ready().values_list("pk", flat=True)
    ]
    assert queued and {result.task.name for result in queued} == {"search_vocabulary_refresh"}
    for (
        result
    ) in queued:  # what a worker does with each (a worker in this process would close its connection)
        result.task.call(*result.args, **result.kwargs)
    assert SearchTerm.objects.filter(word="xanthogranuloma").exists()
    assert case_search_parse(text="xanthogranulma").suggestion == "xanthogranuloma"
