"""Admin form pieces for cases and diagnoses: posted ids checked for shape, synonyms for type."""

import re

from django import forms

from cases.models import Diagnosis

WELL_FORMED_ID = re.compile(r"\d{1,18}")  # fits a 64-bit key; anything else names no row
NO_ROW = "0"


class WellFormedIdsMixin:
    """A posted id that is not a well-formed integer becomes 0, which no row has: the form says "Select a
    valid choice" instead of the autocomplete widget or the multiple-choice field querying the raw value
    (a 500 for ``abc`` or an id beyond 64 bits)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            return
        data = self.data.copy()
        for name, field in self.fields.items():
            if not isinstance(field, forms.ModelChoiceField):
                continue
            key = self.add_prefix(name)
            if isinstance(field, forms.ModelMultipleChoiceField):
                values = data.getlist(key)
                data.setlist(key, [value if WELL_FORMED_ID.fullmatch(value) else NO_ROW for value in values])
            elif data.get(key) and not WELL_FORMED_ID.fullmatch(data[key]):
                data[key] = NO_ROW
        self.data = data


class CaseRowForm(WellFormedIdsMixin, forms.ModelForm):
    """The form of each inline row of a case (findings, differential, references, studies)."""


class DiagnosisForm(WellFormedIdsMixin, forms.ModelForm):
    class Meta:
        model = Diagnosis
        fields = ["name", "slug", "synonyms", "summary", "summary_source", "editorial_summary"]

    def clean_synonyms(self):
        # Search and marking read each synonym as a name: a dict or a bare string would turn its keys or
        # letters into "synonyms" ("a" would then match every series label).
        synonyms = self.cleaned_data["synonyms"]
        if synonyms in (None, ""):
            return []
        if not isinstance(synonyms, list) or not all(isinstance(s, str) and s.strip() for s in synonyms):
            raise forms.ValidationError('Synonyms are a list of names, e.g. ["EMH", "chloroma"].')
        return [synonym.strip() for synonym in synonyms]
