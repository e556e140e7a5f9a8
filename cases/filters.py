"""The case-list filters: the query parameters residents share in links, validated by a form.

``q`` (the search words) is validated here with the other parameters and combines with them all;
``cases/search.py`` parses and applies it, since it also ranks the list.
"""

from django import forms
from django.db.models import QuerySet
from taggit.models import Tag

from cases.modalities import MODALITY_CHOICES, facet_key
from cases.models import Case, CaseFacetSet, CaseQuerySet, FacetKind, facet_value_key
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


def facet_filter_keys(filters: dict, tree: RegionTree | None = None) -> list[str] | None:
    """The facet keys every matching case has (``CaseFacetSet``): its region (a case's set names every
    region above its own too), modality group (CR and DX together) and tag; ``None`` when the region
    or tag named does not exist, so that nothing matches."""
    keys = []
    if "region" in filters:
        tree = tree or load_region_tree()
        region = tree.by_slug.get(filters["region"])
        if region is None:
            return None
        keys.append(facet_value_key(FacetKind.REGION, str(region.pk)))
    if "modality" in filters:
        keys.append(facet_value_key(FacetKind.MODALITY, facet_key(filters["modality"])))
    if "tag" in filters:
        tag_id = Tag.objects.filter(slug=filters["tag"]).values_list("pk", flat=True).first()
        if tag_id is None:
            return None
        keys.append(facet_value_key(FacetKind.TAG, str(tag_id)))
    return keys


def having_facet_keys(cases: CaseQuerySet, keys: list[str] | None) -> QuerySet:
    """The cases whose facet set has every key: one indexed test of all of them at once."""
    if keys is None:
        return cases.none()
    if not keys:
        return cases
    return cases.filter(pk__in=CaseFacetSet.objects.filter(keys__has_keys=keys).values("case_id"))


def filter_case_fields(cases: CaseQuerySet, filters: dict) -> QuerySet:
    """The filters on the case's own fields: final diagnosis, sex and age."""
    if "diagnosis" in filters:
        cases = cases.filter(final_diagnosis__slug=filters["diagnosis"])
    if "sex" in filters:
        cases = cases.filter(sex=filters["sex"])
    if "age_min" in filters:
        cases = cases.filter(age__gte=filters["age_min"])
    if "age_max" in filters:
        cases = cases.filter(age__lte=filters["age_max"])
    return cases


def filter_cases(cases: CaseQuerySet, filters: dict, tree: RegionTree | None = None) -> QuerySet:
    """Apply the filters; they combine with AND. An unknown region or tag slug matches nothing.

    ``q`` is not applied here but by ``cases.search.search_filter``, which the list view calls. The
    list view applies the two halves itself, so that its facet counts test the keys on the same rows
    they count (``cases.facets.facet_counts``).
    """
    return having_facet_keys(filter_case_fields(cases, filters), facet_filter_keys(filters, tree))
