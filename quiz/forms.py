from django import forms

from cases.facets import Facets, FacetValue
from quiz.localisation import Click
from quiz.matching import Answer
from quiz.models import MAX_OPTIONS, Mark

DIFFERENTIAL_FIELDS = 3
NAME_MAX_LENGTH = 200
# The browser's memory of earlier answers would suggest them for the next case.
NO_AUTOFILL = {"autocomplete": "off", "spellcheck": "false"}
SESSION_LENGTHS = [(5, "5 cases"), (10, "10 cases"), (20, "20 cases")]


class AnswerForm(forms.Form):
    """The resident's answer, sent with the reveal. Nothing in it says whether it was right."""

    guess = forms.CharField(
        required=False,
        max_length=NAME_MAX_LENGTH,
        label="Your diagnosis",
        widget=forms.TextInput(NO_AUTOFILL),
    )
    session = forms.UUIDField(required=False, widget=forms.HiddenInput)
    # A new key in every form shown: the same form sent again (a retry after a reply was lost, a
    # reload of the answer page) reopens the answer it recorded instead of recording it twice.
    # It becomes the attempt's token (see CaseQuizView.post).
    key = forms.UUIDField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for rank in range(1, DIFFERENTIAL_FIELDS + 1):
            self.fields[f"differential_{rank}"] = forms.CharField(
                required=False,
                max_length=NAME_MAX_LENGTH,
                label=f"Differential {rank}",
                widget=forms.TextInput(NO_AUTOFILL),
            )

    @property
    def differential_fields(self):
        return [self[f"differential_{rank}"] for rank in range(1, DIFFERENTIAL_FIELDS + 1)]

    def answer(self) -> Answer:
        ranked = (self.cleaned_data[f"differential_{rank}"] for rank in range(1, DIFFERENTIAL_FIELDS + 1))
        return Answer(self.cleaned_data["guess"], tuple(item for item in ranked if item))


class QuestionAnswerForm(forms.Form):
    """A choice among a question's options, by the position it was shown at (never the option's id)."""

    attempt = forms.UUIDField(widget=forms.HiddenInput)
    choice = forms.TypedChoiceField(
        choices=[(position, position) for position in range(1, MAX_OPTIONS + 1)],
        coerce=int,
        widget=forms.RadioSelect,
    )


class LocalisationAnswerForm(forms.Form):
    """A click on the lesion, as the browser computed it through the viewer's zoom and pan: a point in the
    image's own pixels on one frame of one image. The page's script fills the hidden fields."""

    attempt = forms.UUIDField(widget=forms.HiddenInput)
    image = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    frame = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    x = forms.FloatField(widget=forms.HiddenInput)
    y = forms.FloatField(widget=forms.HiddenInput)

    def click(self) -> Click:
        data = self.cleaned_data
        return Click(image_id=data["image"], frame=data["frame"], x=data["x"], y=data["y"])


class OverrideForm(forms.Form):
    attempt = forms.UUIDField(widget=forms.HiddenInput)
    override = forms.ChoiceField(choices=[("", "Keep the mark it was given"), *Mark.choices], required=False)


class QuizStartForm(forms.Form):
    """The case-list filters, offering only what published cases have, each with its count
    (``quiz_start_facets``); ``filters()`` feeds ``filter_cases``."""

    region = forms.ChoiceField(required=False, help_text="Sub-regions are included.")
    modality = forms.ChoiceField(required=False)
    diagnosis = forms.ChoiceField(required=False)
    tag = forms.ChoiceField(required=False)
    unseen = forms.BooleanField(required=False, label="Only cases I have not quizzed yet")
    count = forms.TypedChoiceField(choices=SESSION_LENGTHS, coerce=int, initial=5, label="Cases in a row")

    def __init__(self, *args, facets: Facets, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = _choices("Any region", facets.regions)
        self.fields["modality"].choices = _choices("Any modality", facets.modalities)
        self.fields["diagnosis"].choices = _choices("Any diagnosis", facets.diagnoses)
        self.fields["tag"].choices = _choices("Any tag", facets.tags)

    FILTERS = ("region", "modality", "diagnosis", "tag")

    def filters(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.FILTERS if self.cleaned_data.get(name)}


INDENT = "\u2003"  # an em space per level of the region tree


def _choices(anything: str, values: list[FacetValue]) -> list[tuple[str, str]]:
    return [("", anything)] + [
        (value.value, f"{INDENT * value.depth}{value.label} ({value.count})") for value in values
    ]
