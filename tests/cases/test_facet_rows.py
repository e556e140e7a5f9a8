"""The maintained facet sets and published counts equal those computed again from the cases, after
every kind of write, and the counts pages show equal those counted straight from the cases' joins."""

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command
from taggit.models import Tag

from authoring.services import case_publish, case_return_to_draft, case_submit_for_review
from cases.facet_rows import case_facets_refresh, rows_of
from cases.facets import facet_counts
from cases.models import Case, CaseFacetSet, DifferentialItem, FacetCount, Finding, Region
from cases.regions import load_region_tree
from cases.tags import tags_merge
from tests.helpers.authoring import FAST_HASHERS, complete_case
from tests.helpers.facets import maintained

pytestmark = pytest.mark.django_db


@pytest.fixture
def archive(make_case, region_tree, diagnosis, settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    chordoma, schwannoma = diagnosis("Chordoma"), diagnosis("Schwannoma")
    for n in range(3):
        make_case(
            slug=f"sacral-{n}",
            findings=["MR", "CR"],
            regions=[region_tree["sacrum"], region_tree["lumbar"]],
            tags=["bone", f"tag-{n}"],
            final_diagnosis=chordoma,
            differential=[schwannoma],
            sex="F",
        )
    make_case(slug="chest-0", findings=["CT", "DX"], regions=[region_tree["chest"]], tags=["lung"], sex="M")
    make_case(slug="draft-0", status=Case.Status.DRAFT, regions=[region_tree["chest"]], tags=["bone"])
    return {"chordoma": chordoma, "schwannoma": schwannoma, **region_tree}


def recomputed() -> tuple[set, Counter]:
    """Rows and counts computed from nothing but the cases (the rebuild's own computation)."""
    rows, counts = set(), Counter()
    for pk, (published, values) in rows_of(list(Case.objects.values_list("pk", flat=True))).items():
        rows |= {(pk, facet, value, published) for facet, value in values}
        if published:
            counts.update(values)
    return rows, counts


def assert_maintained_equals_recomputed():
    assert maintained() == recomputed()


def counted_from_joins() -> Counter:
    """A few published counts straight from the cases and their joins, as the list counted before."""
    published = Case.objects.published()
    tree = load_region_tree()

    def in_region(slug):
        below = tree.descendant_ids(tree.by_slug[slug])
        return published.filter(regions__in=below).distinct().count()

    return Counter(
        {
            "all": published.count(),
            "spine": in_region("spine"),
            "chest": in_region("chest"),
            "CR": published.filter(findings__modality__in=["CR", "DX"]).distinct().count(),
            "bone": published.filter(tags__name="bone").distinct().count(),
        }
    )


def counted_from_rows() -> Counter:
    _rows, counts = maintained()
    ids = {region.slug: str(region.pk) for region in Region.objects.all()}
    bone = Tag.objects.filter(name="bone").first()
    return Counter(
        {
            "all": counts[("all", "")],
            "spine": counts[("region", ids["spine"])],
            "chest": counts[("region", ids["chest"])],
            "CR": counts[("modality", "CR")],
            "bone": counts[("tag", str(bone.pk))] if bone else 0,
        }
    )


def check():
    assert_maintained_equals_recomputed()
    assert counted_from_rows() == counted_from_joins()


def test_the_counts_start_right(archive):
    _rows, counts = maintained()
    assert counts[("all", "")] == 4 and counts[("modality", "CR")] == 4  # DX counts as a radiograph
    assert counts[("region", str(archive["spine"].pk))] == 3  # two sub-regions each, counted once
    check()


def test_publish_and_unpublish(archive, faculty, editor):
    case = complete_case(author=faculty)
    case.regions.set([archive["sacrum"]])
    case.tags.set(["bone"])
    check()
    case_submit_for_review(case=case, by=faculty)
    check()
    case_publish(case=case, by=editor)
    assert maintained()[1][("all", "")] == 5
    check()
    case_return_to_draft(case=case, by=editor)
    assert maintained()[1][("all", "")] == 4
    check()


def test_editing_regions_modalities_tags_sex_and_diagnoses(archive, diagnosis):
    case = Case.objects.get(slug="sacral-0")
    case.regions.set([archive["chest"]])
    check()
    archive["chest"].cases.add(Case.objects.get(slug="sacral-1"))  # from the region's side
    check()
    archive["chest"].cases.clear()
    check()
    Finding.objects.filter(case=case, modality="CR").update(modality="US")  # no signal: refreshed by hand
    case_facets_refresh(case_ids=[case.pk])
    check()
    finding = Finding.objects.filter(case=case).first()
    finding.modality = "CT"
    finding.save()
    check()
    finding.delete()
    check()
    case.tags.add("classic")
    case.tags.remove("bone")
    check()
    case.tags.clear()
    check()
    case.sex = "M"
    case.final_diagnosis = archive["schwannoma"]  # also in its differential: no longer counted there
    case.save()
    check()
    assert maintained()[1][("differential", str(archive["schwannoma"].pk))] == 2
    DifferentialItem.objects.filter(case__slug="sacral-1").delete()
    check()


def test_moving_a_region_under_another_parent(archive):
    archive["sacrum"].parent = archive["chest"]
    archive["sacrum"].save()
    check()
    assert maintained()[1][("region", str(archive["chest"].pk))] == 4


def test_merging_and_deleting_tags(archive):
    tags_merge(
        tag_ids=list(Case.objects.get(slug="sacral-0").tags.values_list("pk", flat=True)), new_name="osseous"
    )
    check()
    Tag.objects.get(name="lung").delete()
    check()


def test_deleting_cases(archive):
    Case.objects.get(slug="sacral-0").delete()
    check()
    Case.objects.filter(slug__in=["sacral-1", "draft-0"]).delete()
    check()
    assert maintained()[1][("all", "")] == 2


def test_the_rebuild_command_restores_lost_counts(archive):
    FacetCount.objects.update(count=0)
    CaseFacetSet.objects.filter(case__slug="chest-0").delete()
    assert maintained() != recomputed()
    call_command("facets_rebuild", stdout=StringIO())
    check()


def test_the_region_page_counts_its_sub_regions_like_the_facet_counts(archive, client, faculty):
    """The region page reads its sub-regions' counts from the maintained counts: the same as a GROUP BY
    of the keys of the region's cases would give, for a visitor and for faculty who also see a draft."""
    Case.objects.filter(slug="sacral-2").update(status=Case.Status.DRAFT, author=faculty)
    case_facets_refresh(case_ids=Case.objects.filter(slug="sacral-2").values_list("pk", flat=True))
    for who in (None, faculty):
        if who:
            client.force_login(who)
        children = dict(client.get("/regions/spine/").context["children"])
        visible = Case.objects.visible_to(who) if who else Case.objects.published()
        expected = facet_counts(visible, having_keys=[f"region:{archive['spine'].pk}"])
        assert {child.slug: n for child, n in children.items()} == {
            child.slug: expected[("region", str(child.pk))] for child in children
        }
        assert children[archive["sacrum"]] == (3 if who else 2)
        page = client.get("/regions/spine/").context["page_obj"]
        assert page.paginator.count == len(page.object_list) == expected[("region", str(archive["spine"].pk))]
