"""The teaching-case record: regions, diagnoses, cases and their sections.

Every teaching section is its own field or row so that quiz mode can withhold exactly the parts
that give the answer away, and so that an empty section can honestly read "not stated in the
source" instead of being padded with an invented value.
"""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from taggit.managers import TaggableManager
from taggit.models import TaggedItemBase

from cases import extensions
from cases.modalities import MODALITY_CHOICES, modality_codes_matching
from cases.permissions import VIEW_DRAFT, VIEW_REVIEW, case_visibility_permissions


class Region(models.Model):
    """A node of the anatomical tree (Spine > Sacrum and coccyx …)."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="region_unique_name_per_parent"),
            models.CheckConstraint(condition=~Q(parent=models.F("pk")), name="region_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("region_detail", args=[self.slug])


class Diagnosis(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    synonyms = models.JSONField(
        default=list, blank=True, help_text="Other names: American spellings, abbreviations, true synonyms."
    )
    accepted_answers = models.JSONField(
        default=list,
        blank=True,
        help_text="Further answers the quiz marks correct but search does not use, e.g. 'haemangioma' for "
        "intraosseous haemangioma, where the case makes the location redundant.",
    )
    summary = models.TextField(blank=True, help_text="Only what the cited sources state.")
    summary_source = models.CharField(max_length=500, blank=True)
    editorial_summary = models.TextField(
        blank=True, help_text="Added by the archive's editors, not from the sources; shown labelled as such."
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "diagnoses"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("diagnosis_detail", args=[self.slug])


class TaggedCase(TaggedItemBase):
    """A real foreign key to the case (instead of taggit's generic one) keeps tag queries plain joins."""

    content_object = models.ForeignKey("Case", on_delete=models.CASCADE)


# The long teaching texts: a case card shows none of them (a search snippet reads them).
CARD_DEFERRED_FIELDS = (
    "clinical_history",
    "diagnosis_proof",
    "treatment_outcome",
    "discussion",
    "teaching_points",
    "attribution",
    "licence",
)


class CaseQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=Case.Status.PUBLISHED)

    def visible_to(self, user):
        """Cases the user may see: permissions decide, never ``is_staff``.

        A draft: its author and holders of ``view_draft_case`` (editors). In review: its author
        and holders of ``view_review_case`` (faculty, editors). Published: everyone.
        Both permissions come from ``cases.permissions.case_visibility_permissions``, which the
        cached facet counts' key reads too.
        """
        visible = Q(status=Case.Status.PUBLISHED)
        if not user.is_authenticated:
            return self.filter(visible)
        return self.filter(visible | self._unpublished_visible(user))

    def _unpublished_visible(self, user) -> Q:
        visible = Q(author=user)
        codenames = case_visibility_permissions(user)
        if VIEW_DRAFT in codenames:
            visible |= Q(status=Case.Status.DRAFT)
        if VIEW_REVIEW in codenames:
            visible |= Q(status=Case.Status.IN_REVIEW)
        return visible

    def unpublished_visible_to(self, user):
        """The cases beyond the published ones that the user may see (``visible_to``): none for an
        anonymous visitor; a logged-in user's own, and drafts or cases in review by permission."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(self._unpublished_visible(user)).exclude(status=Case.Status.PUBLISHED)

    def with_modality(self, code: str):
        codes = modality_codes_matching(code)
        return self.filter(pk__in=Finding.objects.filter(modality__in=codes).values("case_id"))

    def for_list(self, *, with_text: bool = False):
        """What a case card (``includes/case_card.html``) shows, in a fixed number of queries whatever
        the page size: the case row, its final diagnosis, regions and findings' modalities. Not its
        tags, which a card does not show, nor its long texts unless a search snippet needs them."""
        cases = self.select_related("final_diagnosis").prefetch_related(
            "regions",
            models.Prefetch("findings", queryset=Finding.objects.only("case_id", "modality", "order")),
        )
        return cases if with_text else cases.defer(*CARD_DEFERRED_FIELDS)

    def for_detail(self):
        """A case with every row its page (and its quiz page) shows, in a fixed number of queries:
        the case with its final diagnosis and author, then one query each for regions (with their
        parents), tags, findings, differential items (with their diagnoses) and references, and what
        apps above ``cases`` add (``cases.extensions``: imaging adds the image tree)."""
        return self.select_related("final_diagnosis", "author").prefetch_related(
            models.Prefetch("regions", queryset=Region.objects.select_related("parent")),
            "tags",
            "findings",
            models.Prefetch(
                "differential_items", queryset=DifferentialItem.objects.select_related("diagnosis")
            ),
            "references",
            *(make() for make in extensions.detail_prefetches),
        )


class Case(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        IN_REVIEW = "review", "In review"
        PUBLISHED = "published", "Published"

    class Sex(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        OTHER = "O", "Other"

    class Certainty(models.TextChoices):
        HISTOLOGY = "histology", "Histology (biopsy or surgery)"
        CLINICAL_IMAGING = "clinical_imaging", "Clinical and imaging correlation"
        IMAGING_TYPICAL = "imaging_typical", "Typical imaging appearance"
        FOLLOW_UP = "follow_up", "Follow-up"

    slug = models.SlugField(
        max_length=120,
        unique=True,
        help_text="Neutral: it appears in quiz URLs, so it must not name the diagnosis.",
    )
    title = models.CharField(
        max_length=200, help_text="Neutral presentation, e.g. '47-year-old woman with back pain'."
    )
    age = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Years; empty if not stated.")
    sex = models.CharField(max_length=1, choices=Sex.choices, blank=True)
    age_sex_source = models.CharField(
        max_length=300,
        blank=True,
        help_text="Where age and sex come from when the case text does not state them; shown beside them.",
    )
    clinical_history = models.TextField(blank=True)
    final_diagnosis = models.ForeignKey(
        Diagnosis, null=True, blank=True, on_delete=models.PROTECT, related_name="final_cases"
    )
    diagnosis_certainty = models.CharField(max_length=20, choices=Certainty.choices, blank=True)
    diagnosis_proof = models.TextField(
        blank=True, help_text="How the diagnosis was proven, as the source says."
    )
    treatment_outcome = models.TextField(blank=True)
    discussion = models.TextField(blank=True)
    teaching_points = models.TextField(blank=True)
    editors_notes = models.TextField(
        blank=True, help_text="Statements added by the archive's editors, not from the source; labelled."
    )
    regions = models.ManyToManyField(Region, blank=True, related_name="cases")
    tags = TaggableManager(through=TaggedCase, blank=True)
    attribution = models.TextField(
        blank=True, help_text="Source site and presenter, as the source names them."
    )
    licence = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-created_at"]
        permissions = [
            ("view_draft_case", "Can view any draft case"),
            ("view_review_case", "Can view any case in review"),
            ("publish_case", "Can publish and unpublish cases"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(age__lte=130), name="case_age_plausible"),
            models.CheckConstraint(condition=Q(sex__in=["", "F", "M", "O"]), name="case_sex_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "review", "published"]), name="case_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="published") | Q(published_at__isnull=False),
                name="case_published_has_date",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-published_at"], name="case_status_published_idx"),
            # The published cases' ids alone: a search or a filter checks "published" against this
            # small index (read index-only) instead of the case rows, once per matching case.
            models.Index(fields=["id"], condition=Q(status="published"), name="case_published_id_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("case_detail", args=[self.slug])

    @property
    def source_recorded(self) -> bool:
        """Whether the case records a source it was written from (the seed cases do; a faculty member's
        own case usually does not): only then do empty sections say "not stated in the source"."""
        return bool(self.attribution.strip())

    @property
    def modalities(self) -> list[str]:
        """Distinct modality codes of the findings, in teaching order (uses prefetched rows)."""
        seen: list[str] = []
        for finding in self.findings.all():
            if finding.modality not in seen:
                seen.append(finding.modality)
        return seen

    @property
    def top_regions(self) -> list[Region]:
        return [region for region in self.regions.all() if region.parent_id is None]


class CaseSectionRow(models.Model):
    """A row of a case's section (finding, differential item, reference): its text is in the case's
    search document (kept current by ``cases/search_upkeep.py``)."""

    class Meta:
        abstract = True


class Finding(CaseSectionRow):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="findings")
    modality = models.CharField(max_length=4, choices=MODALITY_CHOICES)
    study = models.CharField(
        max_length=200, blank=True, help_text="Study or technique, e.g. 'Sagittal T1 and T2'."
    )
    text = models.TextField()
    editors_note = models.TextField(
        blank=True, help_text="Added by the archive's editors, not from the source; shown labelled."
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["case", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["case", "order"], name="finding_unique_order")]
        indexes = [models.Index(fields=["modality", "case"], name="finding_modality_case_idx")]

    def __str__(self) -> str:
        return f"{self.get_modality_display()}: {self.study}"


class DifferentialItem(CaseSectionRow):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="differential_items")
    diagnosis = models.ForeignKey(Diagnosis, on_delete=models.PROTECT, related_name="differential_items")
    rationale = models.TextField(blank=True, help_text="Why it was considered, or why it was excluded.")
    added_by_editors = models.BooleanField(
        default=False, help_text="Not given by the source: shown as an addition by the archive's editors."
    )
    editors_note = models.TextField(
        blank=True, help_text="Added by the archive's editors to the source's reasoning; shown labelled."
    )
    indistinguishable = models.BooleanField(
        default=False,
        help_text="The source cannot tell this apart from the final diagnosis: naming it is marked close.",
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["case", "order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["case", "order"], name="differential_unique_order"),
            models.UniqueConstraint(fields=["case", "diagnosis"], name="differential_unique_diagnosis"),
        ]

    def __str__(self) -> str:
        return str(self.diagnosis)


class Reference(CaseSectionRow):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="references")
    citation = models.TextField()
    # Web links only: an allow-list of schemes (Django's default also admits ftp and ftps).
    url = models.URLField(blank=True, validators=[URLValidator(schemes=["http", "https"])])
    doi = models.CharField(max_length=200, blank=True)
    pmid = models.CharField(max_length=20, blank=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["case", "order", "pk"]
        constraints = [models.UniqueConstraint(fields=["case", "order"], name="reference_unique_order")]

    def __str__(self) -> str:
        return self.citation[:80]


class CaseSearchDocument(models.Model):
    """A case's text as search sees it: normalised (``cases/spelling.py``) and grouped by weight.

    Kept apart from ``Case`` so that list pages, which load whole case rows, do not also carry a
    second copy of the text. ``cases/search.py`` rewrites it whenever the case or one of its
    findings, differential items, references, tags, regions or diagnoses changes. The four text
    groups serve SQLite's search directly; on PostgreSQL ``vector`` (weights A to D, GIN-indexed by
    migration 0005) is built from them. A bulk insert that bypasses ``save()`` must call
    ``cases.search.search_documents_refresh`` itself.
    """

    case = models.OneToOneField(
        Case, primary_key=True, on_delete=models.CASCADE, related_name="search_document"
    )
    title_and_diagnosis = models.TextField(
        blank=True, help_text="Weight A: title, final diagnosis, synonyms."
    )
    findings = models.TextField(blank=True, help_text="Weight B: findings, tags, regions.")
    context = models.TextField(
        blank=True, help_text="Weight C: history, differential, teaching points, how it was proven."
    )
    discussion = models.TextField(blank=True, help_text="Weight D: discussion, treatment, references.")
    # A tsvector on PostgreSQL; SQLite accepts the column type but it stays empty there.
    vector = SearchVectorField(null=True, editable=False)

    def __str__(self) -> str:
        return f"Search text of case {self.case_id}"


class SearchTerm(models.Model):
    """A word of the published archive: candidates for typo correction.

    Filled from published cases (their diagnoses' names included), never from drafts. Words are only
    added, so a row can be stale (a surname an editor deleted, a case since unpublished): the
    suggestion query (``cases.search._diagnoses_and_corrections``) offers a word only if, when it
    runs, a published case's search document holds it, so a stale row is never offered.
    """

    word = models.CharField(max_length=60, primary_key=True)
    stem = models.CharField(max_length=60, blank=True)

    class Meta:
        indexes = [models.Index(fields=["stem"], name="search_term_stem_idx")]

    def __str__(self) -> str:
        return self.word


class FacetKind(models.TextChoices):
    """The facets a case counts under, beside the case list's filters."""

    ALL = "all", "Every case"
    REGION = "region", "Region"
    MODALITY = "modality", "Modality"
    SEX = "sex", "Sex"
    DIAGNOSIS = "diagnosis", "Final diagnosis"
    DIFFERENTIAL = "differential", "In the differential"
    TAG = "tag", "Tag"


def facet_value_key(facet: str, value: str) -> str:
    """A facet value as one key: ``region:12``, ``modality:MR``, ``tag:15``, ``all:``."""
    return f"{facet}:{value}"


def facet_value_of(key: str) -> tuple[str, str]:
    facet, _, value = key.partition(":")
    return facet, value


class CaseFacetSet(models.Model):
    """Every facet value a case counts under, as the keys of one JSON object: "all:", its sex, its
    final diagnosis, each region it is in with every region above it, each modality group of its
    findings (CR and DX are one), each tag, and each diagnosis of its differential other than the
    final one.

    One narrow row a case: a filtered list finds its cases with one indexed test of all its filter
    values at once (``has_keys``, GIN-indexed on PostgreSQL), and counts their facets by grouping
    their keys (``CaseFacetKey``). ``published`` is the case's status when the row was written, so
    that ``FacetCount`` can be kept by differences. Kept by ``cases/facet_rows.py`` in the
    transaction of the write that changes it.
    """

    case = models.OneToOneField(Case, primary_key=True, on_delete=models.CASCADE, related_name="facet_set")
    keys = models.JSONField(default=dict)
    published = models.BooleanField()

    def __str__(self) -> str:
        return f"Facets of case {self.case_id}"


class CaseFacetKey(models.Model):
    """One key of a case's facet set: a database view (migration 0014) that unnests ``CaseFacetSet``,
    so that counting the facets of any set of cases is one GROUP BY. Read only. A migration that
    alters ``CaseFacetSet``'s table drops the view first and makes it again after (see 0014)."""

    case_id = models.IntegerField(primary_key=True)
    key = models.CharField(max_length=40)
    # The whole set the key is in: a filter on it is a filter on the set's own row (and its GIN index).
    set_keys = models.JSONField()

    class Meta:
        managed = False
        db_table = "cases_casefacetkey"

    def __str__(self) -> str:
        return f"Case {self.case_id}: {self.key}"


class FacetCount(models.Model):
    """How many published cases count under each facet value (``CaseFacetSet``): the unfiltered list,
    the home page and a diagnosis page read these few rows instead of counting the archive."""

    facet = models.CharField(max_length=12, choices=FacetKind.choices)
    value = models.CharField(max_length=20, blank=True)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["facet", "value"], name="facet_count_unique")]

    def __str__(self) -> str:
        return f"{self.facet} {self.value}: {self.count}"
