"""Admin form pieces for cases and diagnoses: posted ids checked for shape, names typed as a list."""

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


class NamesField(forms.CharField):
    """A list of names typed one per line or separated by commas; stored as a JSON list."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 50})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    max_name_length = 200

    def to_python(self, value):
        text = super().to_python(value)
        names = [name.strip() for line in text.splitlines() for name in line.split(",")]
        too_long = [name for name in names if len(name) > self.max_name_length]
        if too_long:
            raise forms.ValidationError(
                f"A name is at most {self.max_name_length} characters; this one is {len(too_long[0])}: "
                f"“{too_long[0][:40]}…”."
            )
        return list(dict.fromkeys(name for name in names if name))


class DiagnosisForm(WellFormedIdsMixin, forms.ModelForm):
    synonyms = NamesField(
        required=False,
        help_text="One per line or separated by commas: American spellings, abbreviations, true synonyms. "
        "Search and the quiz use them.",
    )
    accepted_answers = NamesField(
        required=False,
        help_text="One per line or separated by commas: answers the quiz marks correct but search does not "
        "use, e.g. 'haemangioma' for intraosseous haemangioma.",
    )

    class Meta:
        model = Diagnosis
        fields = [
            "name",
            "slug",
            "synonyms",
            "accepted_answers",
            "summary",
            "summary_source",
            "editorial_summary",
        ]
