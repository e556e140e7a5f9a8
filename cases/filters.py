"""The case-list filters: the query parameters residents share in links, validated by a form.

``q`` (the search words) is validated here with the other parameters and combines with them all;
``cases/search.py`` parses and applies it, since it also ranks the list.
"""

from django import forms
from django.db.models import CharField, QuerySet, Subquery
from django.db.models.functions import Cast
from taggit.models import Tag

from cases.modalities import MODALITY_CHOICES, facet_key
from cases.models import Case, CaseFacet, CaseQuerySet
from cases.regions import RegionTree, load_region_tree

FILTER_PARAMETERS = ("q", "region", "diagnosis", "modality", "tag", "sex", "age_min", "age_max")
SEARCH_MAX_LENGTH = 200


class CaseFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=SEARCH_MAX_LENGTH, label="Search")
    region = forms.SlugField(required=False)
    diagnosis = forms.SlugField(required=False)
    modality = forms.ChoiceField(choices=[("", "Any modality"), *MODALITY_CHOICES], required=False)
    tag = forms.SlugField(required=False)
    sex = forms.ChoiceField(choices=[("", "Any sex"), *Case.Sex.choices], required=False)
    age_min = forms.IntegerField(required=False, min_value=0, max_value=130, label="Age from")
    age_max = forms.IntegerField(required=False, min_value=0, max_value=130, label="Age to")

    def __init__(self, data=None, **kwargs):
        if data is not None:
            # DICOM codes are upper case, but a hand-typed ?modality=mr should work too.
            data = data.copy()
            if data.get("modality"):
                data["modality"] = data["modality"].upper()
        super().__init__(data, **kwargs)

    def clean(self):
        cleaned = super().clean()
        age_min, age_max = cleaned.get("age_min"), cleaned.get("age_max")
        if age_min is not None and age_max is not None and age_min > age_max:
            self.add_error("age_max", "“Age to” must not be below “Age from”.")
        return cleaned

    def active_filters(self) -> dict:
        """The valid, non-empty filters; an invalid one is reported and ignored, not applied."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {
            name: value
            for name, value in self.cleaned_data.items()
            if name in FILTER_PARAMETERS and value not in (None, "") and name not in self.errors
        }


def _counted_under(cases: CaseQuerySet, kind: str, value) -> QuerySet:
    """Cases with a facet row for this value: one range of the narrow (facet, value, case) index,
    whatever the archive's size, rather than a join of the case rows with their links."""
    return cases.filter(pk__in=CaseFacet.objects.filter(facet=kind, value=value).values("case_id"))


def filter_cases(cases: CaseQuerySet, filters: dict, tree: RegionTree | None = None) -> QuerySet:
    """Apply the filters; they combine with AND. An unknown region slug matches nothing.

    Regions (with their sub-regions: a case's rows name every region above its own), modalities
    (CR and DX together) and tags are looked up in the facet rows (``CaseFacet``). ``q`` is not
    applied here but by ``cases.search.search_filter``, which the list view calls.
    """
    if "region" in filters:
        tree = tree or load_region_tree()
        region = tree.by_slug.get(filters["region"])
        if region is None:
            return cases.none()
        cases = _counted_under(cases, CaseFacet.Kind.REGION, str(region.pk))
    if "diagnosis" in filters:
        cases = cases.filter(final_diagnosis__slug=filters["diagnosis"])
    if "modality" in filters:
        cases = _counted_under(cases, CaseFacet.Kind.MODALITY, facet_key(filters["modality"]))
    if "tag" in filters:
        tag_id = (
            Tag.objects.filter(slug=filters["tag"]).annotate(value=Cast("pk", CharField())).values("value")
        )
        cases = _counted_under(cases, CaseFacet.Kind.TAG, Subquery(tag_id[:1]))
    if "sex" in filters:
        cases = cases.filter(sex=filters["sex"])
    if "age_min" in filters:
        cases = cases.filter(age__gte=filters["age_min"])
    if "age_max" in filters:
        cases = cases.filter(age__lte=filters["age_max"])
    return cases
