"""Search: spelling variants, synonyms and abbreviations, ranking, snippets, filters, facets,
visibility and the upkeep of the search index. Runs on SQLite and PostgreSQL alike; typo correction
is in test_search_typos.py."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from cases.facet_rows import case_facets_refresh
from cases.models import Case, CaseSearchDocument, DifferentialItem, Finding, Reference
from cases.search import case_search_parse, search_documents_refresh
from cases.spelling import normalise
from tests.helpers.accounts import make_user
from tests.helpers.queries import MAX_QUERIES, add_cases, count_queries
from tests.helpers.search import AML, SACRAL, THALASSAEMIA, add_finding, facet_count, found

pytestmark = pytest.mark.django_db


# --- Normalisation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("british", "american"),
    [
        ("haemangioma", "hemangioma"),
        ("haematopoiesis", "hematopoiesis"),
        ("oedema", "edema"),
        ("tumour", "tumor"),
        ("tumours", "tumors"),
        ("oesophagus", "esophagus"),
        ("leukaemia", "leukemia"),
        ("anaemia", "anemia"),
        ("haemorrhage", "hemorrhage"),
        ("thalassaemia", "thalassemia"),
        ("paediatric", "pediatric"),
        ("aetiology", "etiology"),
        ("coeliac", "celiac"),
        ("diarrhoea", "diarrhea"),
        ("embolisation", "embolization"),
        ("localised", "localized"),
        ("analyse", "analyze"),
        ("centre", "center"),
        ("millimetres", "millimeters"),
        ("labelled", "labeled"),
        ("grey", "gray"),
        ("disc", "disk"),
        ("Hæmangioma", "hemangioma"),
        ("Ménétrier", "menetrier"),
    ],
)
def test_british_and_american_spellings_normalise_alike(british, american):
    assert normalise(british) == normalise(american)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("aerated", "erated"),  # aer- is never folded
        ("contour", "contor"),  # -our that is not British
        ("excised", "excized"),  # -ise that is -ise in American English too
        ("discuss", "diskuss"),  # only disc itself and its medical derivatives become disk
        ("vertebrae", "vertebre"),  # a Latin plural is not an ae digraph
        ("four", "for"),
    ],
)
def test_unsafe_folds_are_not_made(one, other):
    assert normalise(one) == one
    assert normalise(one) != normalise(other)


# --- Matching -------------------------------------------------------------------------------------


@pytest.fixture
def spelled(make_case):
    """One case written in British spelling, one in American, one about something else."""
    british = make_case(slug="british", findings=())
    add_finding(british, "Haemangioma of the oesophagus with surrounding oedema; a paediatric tumour.")
    american = make_case(slug="american", findings=())
    add_finding(american, "Leukemia with anemia and a localized hemorrhage after embolization.")
    make_case(slug="unrelated", findings=(), discussion="A fracture of the distal radius.")
    return british, american


@pytest.mark.parametrize(
    "q", ["hemangioma", "esophagus", "edema", "pediatric tumor", "haemangioma oesophagus"]
)
def test_american_query_finds_british_text(client, spelled, q):
    assert found(client, q) == ["british"]


@pytest.mark.parametrize(
    "q", ["leukaemia", "anaemia", "haemorrhage", "localised", "embolisation", "LEUKAEMIA Anaemia"]
)
def test_british_query_finds_american_text(client, spelled, q):
    assert found(client, q) == ["american"]


def test_all_words_must_match(client, spelled):
    assert found(client, "haemangioma leukaemia") == []
    assert found(client, "radius") == ["unrelated"]


def test_diagnosis_synonym_finds_the_case(client, make_case, diagnosis):
    emh = diagnosis("Extramedullary haematopoiesis", synonyms=["extramedullary hematopoiesis", "EMH"])
    make_case(slug="final", final_diagnosis=emh)
    make_case(slug="other")
    assert found(client, "EMH") == ["final"]
    assert found(client, "extramedullary hematopoiesis") == ["final"]


def test_a_synonym_matches_text_that_names_the_diagnosis_another_way(client, make_case, diagnosis):
    """Synonyms are expanded on the query side: a case that merely writes the diagnosis out in its
    discussion is found by the abbreviation, even though it is not linked to the diagnosis."""
    diagnosis("Giant cell tumour of bone", synonyms=["giant cell tumour", "GCT", "osteoclastoma"])
    make_case(slug="written-out", discussion="The main differential was a giant cell tumour.")
    make_case(slug="other", discussion="A chordoma.")
    assert found(client, "GCT") == ["written-out"]
    assert found(client, "osteoclastoma") == ["written-out"]


def test_a_new_synonym_works_at_once(client, make_case, diagnosis):
    chordoma = diagnosis("Chordoma")
    make_case(slug="mentions", discussion="Chordoma was considered.")
    assert found(client, "notochordal tumour") == []
    chordoma.synonyms = ["notochordal tumour"]
    chordoma.save()
    assert found(client, "notochordal tumour") == ["mentions"]


@pytest.mark.parametrize(
    ("q", "text"),
    [
        ("AML", "Known acute myeloid leukaemia."),
        ("acute myeloid leukemia", "Known AML."),
        ("EMH", "Paravertebral extramedullary haematopoiesis."),
        ("GCT", "A giant cell tumour of the sacrum."),
    ],
)
def test_builtin_abbreviations_match_both_ways(client, make_case, q, text):
    make_case(slug="target", clinical_history=text)
    make_case(slug="other", clinical_history="Back pain after a fall.")
    assert found(client, q) == ["target"]


def test_seed_hemangioma_sacrum_mri_finds_the_case_written_haemangioma(client, seeded):
    assert found(client, "hemangioma sacrum MRI") == [SACRAL]


def test_seed_emh_finds_the_thalassaemia_case_first_then_the_aml_case(client, seeded):
    # The thalassaemia case has EMH as its final diagnosis; the AML case lists it in its differential.
    assert found(client, "EMH") == [THALASSAEMIA, AML]


def test_seed_gct_and_aml(client, seeded):
    assert found(client, "GCT") == [SACRAL]  # in its differential
    assert found(client, "AML") == [AML]


def test_empty_or_stop_word_query_lists_everything(client, seeded):
    assert sorted(found(client, "")) == sorted([SACRAL, THALASSAEMIA, AML])
    html = client.get("/cases/?q=the+of").content.decode()
    assert "nothing to search for" in html
    assert len(found(client, "the of")) == 3


def test_too_long_query_is_reported_and_not_applied(client, seeded):
    html = client.get("/cases/", {"q": "chordoma " * 30}).content.decode()
    assert "Some filters were not applied" in html
    assert len(found(client, "chordoma " * 30)) == 3


def test_parse_groups_synonyms_and_drops_stop_words(db, diagnosis):
    diagnosis("Giant cell tumour of bone", synonyms=["GCT"])
    search = case_search_parse(text="the GCT of sacrum")
    assert len(search.groups) == 2
    gct, sacrum = search.groups
    assert ("giant", "cell", "tumor", "of", "bone") in gct.alternatives and ("gct",) in gct.alternatives
    assert sacrum.alternatives == (("sacrum",),)
    assert not case_search_parse(text="  the of  ")


# --- Ranking --------------------------------------------------------------------------------------


@pytest.fixture
def ranked(make_case, diagnosis):
    """The word 'plasmacytoma' in four different places; the newest case has it in the weakest place."""
    plasmacytoma, other = diagnosis("Plasmacytoma"), diagnosis("Lymphoma")
    now = timezone.now()
    title = make_case(slug="in-diagnosis", final_diagnosis=plasmacytoma, published_at=now - timedelta(days=4))
    findings = make_case(slug="in-findings", findings=(), published_at=now - timedelta(days=3))
    add_finding(findings, "Lytic lesion; plasmacytoma or metastasis. Plasmacytoma is favoured. Plasmacytoma!")
    differential = make_case(
        slug="in-differential", differential=[plasmacytoma], published_at=now - timedelta(days=2)
    )
    discussion = make_case(
        slug="in-discussion",
        final_diagnosis=other,
        discussion="Unlike plasmacytoma, this was lymphoma.",
        published_at=now - timedelta(days=1),
    )
    return [title, findings, differential, discussion]


def test_title_and_diagnosis_rank_above_findings_above_context_above_discussion(client, ranked):
    assert found(client, "plasmacytoma") == [
        "in-diagnosis",
        "in-findings",
        "in-differential",
        "in-discussion",
    ]


def test_a_word_in_the_title_ranks_above_the_same_word_in_findings(client, make_case):
    make_case(slug="title", title="Sacral mass in a 60-year-old")
    # Newer, so listed first without a search: only the ranking can put it second.
    make_case(slug="findings-only", findings=()).findings.create(modality="CT", text="Sacral mass.", order=1)
    assert found(client, "")[:2] == ["findings-only", "title"]
    assert found(client, "sacral mass") == ["title", "findings-only"]


def test_without_q_the_order_is_unchanged(client, ranked):
    html = client.get("/cases/").content.decode()
    listed = re.findall(r'<h3><a href="/cases/([^/]+)/">', html[html.index('class="results"') :])
    assert listed == ["in-discussion", "in-differential", "in-findings", "in-diagnosis"]


# --- Filters and facets ---------------------------------------------------------------------------


@pytest.fixture
def filterable(make_case, region_tree, diagnosis):
    chordoma, emh = diagnosis("Chordoma"), diagnosis("Extramedullary haematopoiesis", slug="emh")
    common = {"discussion": "An expansile lesion."}
    return {
        "match": make_case(
            slug="match",
            age=47,
            sex="F",
            findings=["CT"],
            final_diagnosis=chordoma,
            regions=[region_tree["sacrum"]],
            tags=["bone"],
            **common,
        ),
        "other": make_case(
            slug="other",
            age=29,
            sex="M",
            findings=["MR"],
            final_diagnosis=emh,
            regions=[region_tree["chest"]],
            tags=["marrow"],
            **common,
        ),
        "no-word": make_case(
            slug="no-word",
            age=47,
            sex="F",
            findings=["CT"],
            final_diagnosis=chordoma,
            regions=[region_tree["sacrum"]],
            tags=["bone"],
        ),
    }


@pytest.mark.parametrize(
    "filters",
    [
        {"region": "spine"},
        {"diagnosis": "chordoma"},
        {"modality": "CT"},
        {"tag": "bone"},
        {"sex": "F"},
        {"age_min": "40"},
        {"age_max": "50", "age_min": "40"},
    ],
)
def test_q_combines_with_each_filter(client, filterable, filters):
    assert sorted(found(client, "expansile")) == ["match", "other"]
    assert found(client, "expansile", **filters) == ["match"]


def test_q_combines_with_several_filters_and_an_impossible_one(client, filterable):
    assert found(client, "expansile", region="spine", modality="CT", sex="F") == ["match"]
    assert found(client, "expansile", region="chest", diagnosis="chordoma") == []


def test_facets_count_the_matching_set(client, filterable, make_case, region_tree):
    make_case(slug="more-marrow", sex="M", findings=["MR"], regions=[region_tree["chest"]], tags=["marrow"])
    html = client.get("/cases/?q=expansile").content.decode()

    assert "2 cases match “expansile”" in html
    assert facet_count(html, "Spine") == 1
    assert facet_count(html, "Chest") == 1  # not 2: "more-marrow" does not mention the word
    assert facet_count(html, "marrow") == 1
    assert facet_count(html, "bone") == 1  # not 2: "no-word" does not mention the word
    assert facet_count(html, "CT") == 1
    assert facet_count(html, "Male") == 1


def test_facet_links_and_filter_form_keep_the_search(client, filterable):
    html = client.get("/cases/?q=expansile").content.decode()
    assert 'href="?q=expansile&amp;tag=bone"' in html
    assert '<input type="hidden" name="q" value="expansile">' in html


# --- Visibility -----------------------------------------------------------------------------------


@pytest.fixture
def with_drafts(make_case, faculty):
    make_case(slug="published", discussion="An osteoid osteoma.")
    make_case(slug="draft", status=Case.Status.DRAFT, author=faculty, discussion="Another osteoid osteoma.")
    make_case(slug="in-review", status=Case.Status.IN_REVIEW, discussion="A third osteoid osteoma.")


def test_drafts_and_cases_in_review_are_hidden_from_anonymous_users_and_residents(
    client, with_drafts, resident
):
    assert found(client, "osteoid osteoma") == ["published"]
    assert "1 case match" in client.get("/cases/?q=osteoid+osteoma").content.decode()
    client.force_login(resident)
    assert found(client, "osteoid osteoma") == ["published"]


def test_editors_find_drafts_and_authors_their_own(client, with_drafts, editor, faculty):
    client.force_login(editor)
    assert sorted(found(client, "osteoid osteoma")) == ["draft", "in-review", "published"]
    client.force_login(faculty)
    assert sorted(found(client, "osteoid osteoma")) == ["draft", "in-review", "published"]
    client.force_login(make_user("fac3", "faculty"))
    assert sorted(found(client, "osteoid osteoma")) == ["in-review", "published"]


# --- Snippets -------------------------------------------------------------------------------------


def snippets(client, q: str) -> list[str]:
    html = client.get("/cases/", {"q": q}).content.decode()
    return re.findall(r'<p class="snippet">(.*?)</p>', html, re.S)


def test_snippet_marks_the_matched_words_in_the_original_spelling(client, spelled):
    (snippet,) = snippets(client, "hemangioma edema")
    assert "<mark>Haemangioma</mark>" in snippet
    assert "<mark>oedema</mark>" in snippet
    assert "<mark>oesophagus</mark>" not in snippet


def test_snippet_marks_a_whole_synonym_phrase(client, make_case):
    make_case(slug="aml", clinical_history="Known acute myeloid leukaemia; acute pain.")
    (snippet,) = snippets(client, "AML")
    assert "<mark>acute</mark> <mark>myeloid</mark> <mark>leukaemia</mark>; acute pain" in snippet


def test_snippet_escapes_author_text_and_keeps_the_marks(client, make_case):
    case = make_case(slug="xss", findings=())
    add_finding(case, "Note <script>alert('x')</script> beside the haemangioma & <b>bold</b>.")
    response = client.get("/cases/", {"q": "haemangioma script"})
    html = response.content.decode()
    (snippet,) = re.findall(r'<p class="snippet">(.*?)</p>', html, re.S)
    assert "&lt;<mark>script</mark>&gt;alert(&#x27;x&#x27;)&lt;/<mark>script</mark>&gt;" in snippet
    assert "<mark>haemangioma</mark> &amp; &lt;b&gt;bold&lt;/b&gt;" in snippet
    assert "<script>alert" not in html and "<b>" not in html


def test_the_query_is_escaped_wherever_it_is_shown(client, seeded):
    html = client.get("/cases/", {"q": '"><b>haemangioma</b>'}).content.decode()
    assert "<b>haemangioma" not in html
    assert "&lt;b&gt;haemangioma" in html


def test_snippet_is_long_text_cut_around_the_match(client, make_case):
    words = " ".join(f"word{n}" for n in range(200))
    make_case(slug="long", discussion=f"{words} chondrosarcoma {words}")
    (snippet,) = snippets(client, "chondrosarcoma")
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "<mark>chondrosarcoma</mark>" in snippet
    assert len(re.findall(r"word\d+", snippet)) < 40


# --- Keeping the index current --------------------------------------------------------------------


def test_editing_a_finding_updates_the_index(client, make_case):
    case = make_case(slug="edited", findings=())
    finding = add_finding(case, "A simple bone cyst.")
    assert found(client, "bone cyst") == ["edited"]
    finding.text = "An enchondroma."
    finding.save()
    assert found(client, "bone cyst") == []
    assert found(client, "enchondroma") == ["edited"]
    finding.delete()
    assert found(client, "enchondroma") == []


def test_rows_deleted_in_bulk_leave_the_index_and_a_case_deletes_with_its_rows(client, make_case):
    case = make_case(slug="bulk", findings=())
    add_finding(case, "A giant cell tumour.")
    assert found(client, "giant cell") == ["bulk"]
    Finding.objects.filter(case=case).delete()  # no Model.delete(): the receiver hears it all the same
    assert found(client, "giant cell") == []
    add_finding(case, "An aneurysmal bone cyst.")
    case.delete()  # its rows go first; the document goes with the case and is not written again
    assert not CaseSearchDocument.objects.filter(case_id=case.pk).exists()
    assert found(client, "aneurysmal") == []


def test_adding_a_tag_updates_the_index(client, make_case):
    case = make_case(slug="tagged")
    assert found(client, "fibrous dysplasia") == []
    case.tags.add("fibrous dysplasia")
    assert found(client, "fibrous dysplasia") == ["tagged"]
    case.tags.set([])
    assert found(client, "fibrous dysplasia") == []


def test_changing_the_final_diagnosis_updates_the_index(client, make_case, diagnosis):
    chordoma, lymphoma = diagnosis("Chordoma"), diagnosis("Lymphoma")
    case = make_case(slug="changing", final_diagnosis=chordoma)
    assert found(client, "chordoma") == ["changing"]
    case.final_diagnosis = lymphoma
    case.save()
    assert found(client, "chordoma") == []
    assert found(client, "lymphoma") == ["changing"]


def test_differential_items_references_and_regions_update_the_index(
    client, make_case, diagnosis, region_tree
):
    case = make_case(slug="growing")
    item = DifferentialItem.objects.create(case=case, diagnosis=diagnosis("Ewing sarcoma"), order=1)
    assert found(client, "ewing") == ["growing"]
    item.delete()
    assert found(client, "ewing") == []
    Reference.objects.create(case=case, citation="Smith J. Sacral insufficiency fractures. 2020.", order=1)
    assert found(client, "insufficiency") == ["growing"]
    case.regions.add(region_tree["chest"])
    assert found(client, "chest") == ["growing"]
    region_tree["chest"].cases.clear()
    assert found(client, "chest") == []


def test_renaming_a_diagnosis_updates_the_cases_that_name_it(client, make_case, diagnosis):
    tumour = diagnosis("Brown tumour")
    make_case(slug="named", final_diagnosis=tumour)
    tumour.name = "Osteitis fibrosa cystica"
    tumour.save()
    assert found(client, "osteitis fibrosa") == ["named"]
    assert found(client, "brown") == []


def test_bulk_inserted_cases_are_found_once_refreshed(client, db):
    case = Case.objects.bulk_create(
        [Case(slug="bulk", title="Bulk", status=Case.Status.PUBLISHED, published_at=timezone.now())]
    )[0]
    Finding.objects.bulk_create([Finding(case=case, modality="CT", text="Osteopoikilosis.", order=1)])
    assert found(client, "osteopoikilosis") == []  # bulk_create bypasses save(): nothing indexed yet
    assert search_documents_refresh(case_ids=[case.pk]) == 1
    # ...nor any signal: the list's total is counted from the facet sets, which a bulk load refreshes
    # too (docs/browsing.md); the refreshes also retire the cached facet counts.
    case_facets_refresh(case_ids=[case.pk])
    assert found(client, "osteopoikilosis") == ["bulk"]


def test_the_search_document_groups_text_by_weight(db, make_case, diagnosis):
    case = make_case(
        title="Hip pain",
        final_diagnosis=diagnosis("Synovial chondromatosis", synonyms=["synovial osteochondromatosis"]),
        clinical_history="Two years of pain.",
        discussion="Rare after the fifth decade.",
        tags=["joint"],
    )
    document = CaseSearchDocument.objects.get(case=case)
    assert "synovial osteochondromatosis" in document.title_and_diagnosis
    assert "joint" in document.findings
    assert "two years of pain" in document.context
    assert "fifth decade" in document.discussion


# --- Page furniture and query counts --------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/cases/", "/diagnoses/", f"/cases/{SACRAL}/", "/tags/spine/"])
def test_every_page_has_the_labelled_search_box(client, seeded, url):
    html = client.get(url).content.decode()
    form = re.search(
        r'<form class="site-search" role="search" method="get" action="/cases/">(.*?)</form>', html, re.S
    )
    assert form is not None
    assert '<label class="sr-only" for="site-search-q">Search cases</label>' in form.group(1)
    assert 'id="site-search-q" type="search" name="q"' in form.group(1)


def test_search_box_shows_the_current_query(client, seeded):
    assert 'name="q" value="haemangioma"' in client.get("/cases/?q=haemangioma").content.decode()


def test_pagination_keeps_the_search(client, make_case):
    for n in range(25):
        make_case(slug=f"many-{n:02d}", discussion="An aneurysmal bone cyst.")
    html = client.get("/cases/?q=aneurysmal").content.decode()
    assert 'href="?q=aneurysmal&amp;page=2"' in html
    assert len(found(client, "aneurysmal", page="2")) == 5


def test_the_pages_of_a_search_list_every_match_once_best_first_then_newest(client, make_case):
    # Each page ranks the matches again to pick its own: together they must be the one ranked list.
    start = timezone.now()
    for n in range(25):
        where = {"title": f"Aneurysmal case {n:02d}"} if n % 2 else {"discussion": "An aneurysmal bone cyst."}
        make_case(slug=f"many-{n:02d}", published_at=start + timedelta(minutes=n), **where)
    in_title = [f"many-{n:02d}" for n in range(24, -1, -1) if n % 2]
    in_discussion = [f"many-{n:02d}" for n in range(24, -1, -1) if not n % 2]
    assert found(client, "aneurysmal") + found(client, "aneurysmal", page="2") == in_title + in_discussion


SEARCH_PAGES = [
    "/cases/?q=chordoma",
    "/cases/?q=chordoma+sacrum&region=spine&modality=MR",
    "/cases/?q=haemangioma",
    "/cases/?q=chordona",
    "/cases/?q=bone&tag=bone&sex=F&age_min=10",
]
# On PostgreSQL two queries more than the list without a search: the diagnosis synonyms and typo
# corrections in one round trip, and the newest matches (whether the search is broad,
# ``cases.search.search_matches``). Elsewhere up to five (``cases.fuzzy_corrections``): the synonyms,
# whether published cases hold the typed words, and for a word none holds, the vocabulary's
# candidates and whether published cases hold those; and the newest matches.
SEARCH_EXTRA_QUERIES = 2 if connection.vendor == "postgresql" else 5
MAX_SEARCH_QUERIES = {who: limit + SEARCH_EXTRA_QUERIES for who, limit in MAX_QUERIES.items()}


@pytest.mark.parametrize("who", ["anonymous", "logged_in"])
def test_search_query_count_does_not_grow_with_the_number_of_cases(
    client, make_case, region_tree, diagnosis, faculty, who, django_assert_max_num_queries
):
    if who == "logged_in":
        client.force_login(faculty)
    chordoma = diagnosis("Chordoma")
    add_cases(make_case, region_tree, chordoma, 3)
    few = {url: count_queries(client, url) for url in SEARCH_PAGES}
    add_cases(make_case, region_tree, chordoma, 40, start=3)
    assert len(found(client, "chordoma")) == 20  # a full page, with snippets, has to be built
    for url in SEARCH_PAGES:
        with django_assert_max_num_queries(MAX_SEARCH_QUERIES[who]):
            many = count_queries(client, url)
        assert many == few[url], f"{url}: {few[url]} queries with 3 cases, {many} with 43"
