"""Pages run a fixed number of queries however many cases the archive holds.

Counts are taken twice: cold (the cache emptied first, so every cached aggregate is computed) and
warm (the same request again, served partly from the cache). Both must not grow with the archive,
and the warm one must be lower where the page shows facet counts or the home page's aggregates.

Cold, every list page costs at most 9 queries for anonymous visitors and 13 for logged-in residents,
faculty and editors, whose requests also read their session, their user row and their draft/review
permissions (two queries, ``user.has_perm``: their own and their groups'). A list of cards reads its
cards' key images in one query (``imaging.case_images.key_images_attach``). The case
page reads the case and its rows in 10 queries (``CaseQuerySet.for_detail``: six for the case's own
rows, four for its studies, series, images and arrows through ``prefetch_related``) and its related
cases in one more; pages that show a case's images may therefore cost 15.
"""

import pytest

from cases.models import Case
from imaging.demo import SAMPLE_DIR
from imaging.inputs import InputFile
from imaging.models import Annotation, Image, Series, Study
from imaging.services import images_ingest, series_create
from tests.helpers.accounts import make_user
from tests.helpers.queries import MAX_QUERIES, add_cases, count_queries, count_warm_queries

pytestmark = pytest.mark.django_db

LIST_PAGES = [
    "/",
    "/cases/",
    "/cases/?region=spine&modality=MR",
    "/cases/?tag=bone&sex=F&age_min=10",
    "/regions/spine/",
    "/diagnoses/",
    "/diagnoses/chordoma/",
    "/tags/bone/",
]
# Pages without a cached aggregate (a region's or a tag's page reads the maintained counts and its rows):
# warm equals cold there.
UNCACHED_PAGES = {"/regions/spine/", "/diagnoses/", "/diagnoses/chordoma/", "/tags/bone/"}

# Issue #8: the pages of bench/pages.py, cold, for every role.
PAGES = {
    "home": "/",
    "list": "/cases/",
    "filtered list": "/cases/?region=spine&modality=MR",
    "search": "/cases/?q=finding",
    "case page": "/cases/bulk-0/",
    "diagnosis page": "/diagnoses/chordoma/",
    "quiz page": "/cases/bulk-0/quiz/",
}
MAX_COLD_QUERIES = 15
ROLES = ["anonymous", "resident", "faculty", "editor"]
# Anonymous visitors have no session row, user row or permissions to read.
CASE_PAGE_QUERIES = {"anonymous": 11, "logged_in": 15}


def add_images(case: Case, label: str, *, images: int = 3, arrows: int = 1, time_label: str = "Initial"):
    """A series of MR images (the first ``arrows`` with an arrow each) in the case's study of that time."""
    mr = (SAMPLE_DIR / "MR_small.dcm").read_bytes()
    series = series_create(case=case, label=label, modality="MR", time_label=time_label)
    if images:
        images_ingest(series=series, files=[InputFile(f"{n}.dcm", mr) for n in range(images)])
    for image in series.images.order_by("order")[:arrows]:
        Annotation.objects.create(image=image, kind="arrow", x=0.5, y=0.5, tail_x=0.7, tail_y=0.3)
    return series


@pytest.mark.parametrize("who", ["anonymous", "logged_in"])
def test_query_count_does_not_grow_with_the_number_of_cases(
    client, make_case, region_tree, diagnosis, faculty, who, django_assert_max_num_queries
):
    if who == "logged_in":
        client.force_login(faculty)
    chordoma = diagnosis("Chordoma")
    add_cases(make_case, region_tree, chordoma, 3)
    few, few_warm = {}, {}
    for url in LIST_PAGES:
        few[url] = count_queries(client, url)
        few_warm[url] = count_warm_queries(client, url)
    add_cases(make_case, region_tree, chordoma, 40, start=3)
    assert Case.objects.count() == 43
    for url in LIST_PAGES:
        with django_assert_max_num_queries(MAX_QUERIES[who]):
            many = count_queries(client, url)
        assert many == few[url], f"{url}: {few[url]} queries with 3 cases, {many} with 43"
        many_warm = count_warm_queries(client, url)
        assert many_warm == few_warm[url], f"{url}: warm, {few_warm[url]} with 3 cases, {many_warm} with 43"
        if url in UNCACHED_PAGES:
            assert many_warm == many
        else:
            assert many_warm < many, f"{url}: {many_warm} queries warm, {many} cold: nothing from the cache"


@pytest.mark.parametrize("who", ROLES)
def test_every_page_costs_at_most_12_queries_cold_whatever_the_archive_s_size(
    client, make_case, region_tree, diagnosis, who
):
    """Issue #8. Between the two sizes the archive grows tenfold and the case page gains a study, a
    series, images and arrows: neither may cost a query more. Drafts of another author and a case
    in review are there, so faculty and editors really see more than residents."""
    if who != "anonymous":
        client.force_login(make_user(f"{who}-user", who))
    chordoma = diagnosis("Chordoma")
    add_cases(make_case, region_tree, chordoma, 4)
    for n, status in enumerate([Case.Status.DRAFT, Case.Status.IN_REVIEW]):
        make_case(
            slug=f"unpublished-{n}", status=status, final_diagnosis=chordoma, regions=[region_tree["sacrum"]]
        )
    # The diagnosis page's second list: cases that considered chordoma and concluded otherwise.
    make_case(slug="considered-0", final_diagnosis=diagnosis("Schwannoma"), differential=[chordoma])
    case = Case.objects.get(slug="bulk-0")
    add_images(case, "Axial T1")
    add_images(case, "Axial T2", images=0)  # a series still without images
    small = {page: count_queries(client, url) for page, url in PAGES.items()}

    add_cases(make_case, region_tree, chordoma, 40, start=4)
    add_images(case, "Sagittal T2", images=5, arrows=3, time_label="After treatment")
    add_images(case, "Coronal T1", images=4, arrows=2)
    make_case(slug="considered-1", differential=[chordoma])
    assert Case.objects.count() == 48
    large = {page: count_queries(client, url) for page, url in PAGES.items()}

    assert large == small, f"{who}: with 7 cases {small}, with 48 {large}"
    over = {page: count for page, count in large.items() if count > MAX_COLD_QUERIES}
    assert not over, f"{who}: more than {MAX_COLD_QUERIES} queries cold: {over}"
    expected = CASE_PAGE_QUERIES["anonymous" if who == "anonymous" else "logged_in"]
    assert large["case page"] == expected, f"{who}: the case page costs {large['case page']} queries"


@pytest.mark.parametrize("who", ["anonymous", "editor"])
def test_the_diagnosis_page_counts_both_lists_in_one_query(client, make_case, diagnosis, who):
    """Final diagnosis and differential counted together, each as its list shows it: a case with
    another final diagnosis, or none, counts in the differential; one with it as final does not;
    a draft only for those who may see it."""
    chordoma, schwannoma = diagnosis("Chordoma"), diagnosis("Schwannoma")
    make_case(final_diagnosis=chordoma, differential=[chordoma, schwannoma])
    make_case(final_diagnosis=chordoma)
    make_case(final_diagnosis=schwannoma, differential=[chordoma])
    make_case(differential=[schwannoma, chordoma])  # no final diagnosis
    make_case(final_diagnosis=schwannoma, differential=[schwannoma])
    make_case(status=Case.Status.DRAFT, final_diagnosis=chordoma, differential=[chordoma])
    make_case(status=Case.Status.DRAFT, final_diagnosis=schwannoma, differential=[chordoma])
    if who == "editor":
        client.force_login(make_user("editor-user", "editor"))
    context = client.get("/diagnoses/chordoma/").context
    drafts = 1 if who == "editor" else 0
    assert (context["final_count"], context["differential_count"]) == (2 + drafts, 2 + drafts)
    assert len(context["final_cases"]) == context["final_count"]
    assert len(context["differential_cases"]) == context["differential_count"]


def test_case_page_query_count_is_fixed(client, make_case, region_tree, diagnosis, django_assert_num_queries):
    chordoma = diagnosis("Chordoma")
    add_cases(make_case, region_tree, chordoma, 30)
    case = Case.objects.get(slug="bulk-0")
    for label in ("Axial T1", "Axial T2"):
        add_images(case, label)
    # case, regions, tags, findings, differential, references, the image tree, related cases
    with django_assert_num_queries(11):
        html = client.get("/cases/bulk-0/").content.decode()
    assert html.count('class="stack-viewer"') == 2


# --- The image tree in one query: nothing lost, nothing reordered -----------------------------------


def image_tree(case: Case) -> list:
    """Everything the case page shows of the images, read through the related managers."""
    return [
        (
            study.pk,
            study.time_label,
            [
                (
                    series.pk,
                    series.label,
                    series.study is study,
                    [
                        (
                            image.pk,
                            image.frame_count,
                            image.series is series,
                            [
                                (note.pk, note.frame, note.x, note.image is image)
                                for note in image.annotations.all()
                            ],
                        )
                        for image in series.images.all()
                    ],
                )
                for series in study.series.all()
            ],
        )
        for study in case.studies.all()
    ]


def test_for_detail_reads_the_whole_image_tree_and_keeps_empty_studies_and_series(
    make_case, django_assert_num_queries
):
    case = make_case(slug="imaged")
    other = make_case(slug="other")
    add_images(other, "Not this case's")
    add_images(case, "Axial T2", images=2, arrows=0, time_label="Follow-up")
    axial_t1 = add_images(case, "Axial T1", images=4, arrows=2)
    add_images(case, "Sagittal", images=0)  # a series without images
    Study.objects.create(case=case, modality="CT", time_label="Empty", order=9)  # a study without series
    third = axial_t1.images.order_by("order")[2]
    Annotation.objects.create(image=third, frame=0, kind="label", x=0.1, y=0.2, text="Second on this image")
    Annotation.objects.create(image=third, frame=0, kind="label", x=0.3, y=0.4, text="Third on this image")
    # Teaching order, not insertion order: the images of Axial T1 ordered the reverse of their ids.
    for n, image in enumerate(axial_t1.images.order_by("-pk")):
        Image.objects.filter(pk=image.pk).update(order=n)
    expected = image_tree(
        Case.objects.prefetch_related("studies__series__images__annotations").get(pk=case.pk)
    )

    with django_assert_num_queries(10):
        loaded = Case.objects.for_detail().get(pk=case.pk)
    with django_assert_num_queries(0):
        tree = image_tree(loaded)
    assert tree == expected
    assert [study[1] for study in tree] == ["Follow-up", "Initial", "Empty"]
    assert [len(series[3]) for study in tree for series in study[2]] == [2, 4, 0]
    assert tree[2][2] == [], "the study without series is kept"
    t1_images = tree[1][2][0][3]
    assert [image[0] for image in t1_images] == sorted(image[0] for image in t1_images)[::-1]
    assert sorted(len(image[3]) for image in t1_images) == [0, 1, 1, 2], "every arrow, each image once"
    assert all(series[2] for study in tree for series in study[2])
    assert Series.objects.filter(study__case=case).count() == 3


def test_for_detail_reads_the_tree_of_several_cases_in_the_same_queries(make_case, django_assert_num_queries):
    cases = [make_case(slug=f"several-{n}") for n in range(3)]
    for n, case in enumerate(cases):
        add_images(case, f"Series {n}", images=n + 1, arrows=n)
    with django_assert_num_queries(10):
        loaded = list(Case.objects.for_detail().filter(slug__startswith="several-").order_by("slug"))
    with django_assert_num_queries(0):
        shown = [[len(s.images.all()) for st in c.studies.all() for s in st.series.all()] for c in loaded]
        arrows = [
            sum(
                len(i.annotations.all())
                for st in c.studies.all()
                for s in st.series.all()
                for i in s.images.all()
            )
            for c in loaded
        ]
    assert shown == [[1], [2], [3]]
    assert arrows == [0, 1, 2]


def test_for_detail_leaves_the_deidentification_report_deferred_but_readable(make_case):
    case = make_case(slug="report")
    add_images(case, "Axial", images=1, arrows=0)
    image = Case.objects.for_detail().get(pk=case.pk).studies.all()[0].series.all()[0].images.all()[0]
    assert "deid_report" in image.get_deferred_fields()
    assert image.deid_report == Image.objects.get(pk=image.pk).deid_report
