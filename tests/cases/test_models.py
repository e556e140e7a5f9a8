import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from cases.models import Case, DifferentialItem, Finding, Reference, Region
from cases.regions import load_region_tree

pytestmark = pytest.mark.django_db


def assert_rejected(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_case_slug_is_unique(make_case):
    make_case(slug="same")
    assert_rejected(lambda: Case.objects.create(slug="same", title="Another"))


def test_age_above_plausible_range_is_rejected_by_the_database():
    assert_rejected(lambda: Case.objects.create(slug="old", title="t", age=131))


def test_sex_outside_the_choices_is_rejected_by_the_database():
    assert_rejected(lambda: Case.objects.create(slug="x", title="t", sex="Q"))


def test_status_outside_the_choices_is_rejected_by_the_database():
    assert_rejected(lambda: Case.objects.create(slug="x", title="t", status="archived"))


def test_published_case_needs_a_publication_date():
    assert_rejected(lambda: Case.objects.create(slug="x", title="t", status="published"))
    Case.objects.create(slug="y", title="t", status="published", published_at=timezone.now())


def test_age_and_sex_may_be_empty_when_the_source_does_not_state_them():
    case = Case.objects.create(slug="unknown", title="t")
    case.refresh_from_db()
    assert case.age is None
    assert case.sex == ""


def test_finding_order_is_unique_within_a_case(make_case):
    case = make_case(findings=["CT"])
    assert_rejected(lambda: Finding.objects.create(case=case, modality="MR", text="x", order=1))
    Finding.objects.create(case=case, modality="MR", text="x", order=2)


def test_differential_order_and_diagnosis_are_unique_within_a_case(make_case, diagnosis):
    chordoma, gct = diagnosis("Chordoma"), diagnosis("Giant cell tumour")
    case = make_case(differential=[chordoma])
    assert_rejected(lambda: DifferentialItem.objects.create(case=case, diagnosis=gct, order=1))
    assert_rejected(lambda: DifferentialItem.objects.create(case=case, diagnosis=chordoma, order=2))
    DifferentialItem.objects.create(case=case, diagnosis=gct, order=2)
    assert [item.diagnosis.name for item in case.differential_items.all()] == [
        "Chordoma",
        "Giant cell tumour",
    ]


def test_reference_order_is_unique_within_a_case(make_case):
    case = make_case()
    Reference.objects.create(case=case, citation="A", order=1)
    assert_rejected(lambda: Reference.objects.create(case=case, citation="B", order=1))


def test_diagnosis_in_use_cannot_be_deleted(make_case, diagnosis):
    chordoma = diagnosis("Chordoma")
    make_case(final_diagnosis=chordoma)
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        chordoma.delete()


def test_region_slug_unique_and_not_its_own_parent(region_tree):
    assert_rejected(lambda: Region.objects.create(name="Spine again", slug="spine"))
    spine = region_tree["spine"]
    spine.parent = spine
    assert_rejected(spine.save)


def test_region_tree_descendants_ancestors_and_walk(region_tree):
    tree = load_region_tree()
    spine, sacrum, lumbar = region_tree["spine"], region_tree["sacrum"], region_tree["lumbar"]
    assert tree.descendant_ids(spine) == {spine.pk, sacrum.pk, lumbar.pk}
    assert tree.descendant_ids(sacrum) == {sacrum.pk}
    assert tree.ancestors(sacrum) == [spine]
    assert [(region.slug, depth) for region, depth in tree.walk()] == [
        ("spine", 0),
        ("lumbar-spine", 1),
        ("sacrum", 1),
        ("chest", 0),
    ]


def test_modalities_are_distinct_in_teaching_order(make_case):
    case = make_case(findings=["CR", "NM", "MR", "MR"])
    assert case.modalities == ["CR", "NM", "MR"]
