"""The forms faculty draw lesion targets with: one row per target on the image's page (the drawing board
fills the rows), and one row per localisation question in the case editor.

A target is checked against its image before anything is stored, by the rule every way in uses
(``quiz.localisation.validate_target``: a polygon of at least three vertices on the image, an ellipse whose
centre lies on the image, with positive radii), on a frame the image has (counted from 1 here, as the
board shows it), of an image in the question's series. Each error names what is wrong, beside its field.
"""

import math

import reversion
from django import forms
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.forms.models import BaseInlineFormSet

from cases.admin_forms import WellFormedIdsMixin
from imaging.models import Image, Series
from quiz.localisation import validate_target
from quiz.models import LesionTarget, LocalisationQuestion

DEFAULT_PROMPT = LocalisationQuestion._meta.get_field("prompt").default
POINTS_EXAMPLE = "[[120, 80], [160, 85], [140, 130]]"
ELLIPSE_FIELDS = ("center_x", "center_y", "radius_x", "radius_y", "rotation")


# The inline's columns, in the order the drawing board fills them (quiz/localisation_admin.py shows the same).
TARGET_FORM_FIELDS = [
    "question",
    "prompt",
    "frame",
    "shape",
    "points",
    "center_x",
    "center_y",
    "radius_x",
    "radius_y",
    "rotation",
]


class LesionTargetForm(WellFormedIdsMixin, forms.ModelForm):
    """One target, in the image's pixels; its frame counted from 1 as the board and the viewer show it.
    Left without a question, the target makes a new question of the image's series with ``prompt``."""

    frame = forms.IntegerField(min_value=1, initial=1, label="Frame", help_text="Counting from 1.")
    prompt = forms.CharField(
        max_length=LocalisationQuestion._meta.get_field("prompt").max_length,
        required=False,
        initial=DEFAULT_PROMPT,
        label="New question's prompt",
        help_text="Only for a target drawn for a new question.",
    )
    points = forms.JSONField(
        required=False,
        widget=forms.TextInput(attrs={"size": 24}),
        help_text=f"Polygon vertices in image pixels, e.g. {POINTS_EXAMPLE}.",
    )

    class Meta:
        model = LesionTarget
        fields = TARGET_FORM_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["question"].required = False
        self.fields["rotation"].required = False  # a polygon has none; an ellipse left blank is not turned
        self.fields["question"].empty_label = "A new question (its prompt beside)"
        if self.instance.pk:
            self.initial["frame"] = self.instance.frame + 1
            self.initial["prompt"] = ""

    @property
    def image(self) -> Image | None:
        return self.instance.image if self.instance.image_id else None

    def clean_frame(self) -> int:
        """The stored index (from 0) of the frame number given, which the image must have."""
        number = self.cleaned_data["frame"]
        image = self.image
        if image is not None and number > image.frame_count:
            raise forms.ValidationError(
                f"This image has {image.frame_count} frame(s); choose a frame from 1 to {image.frame_count}."
            )
        return number - 1

    def clean_rotation(self):
        rotation = self.cleaned_data.get("rotation")
        if rotation is None:
            return 0.0
        # Degrees as the board shows them, in (-180, 180]: the same ellipse is stored one way.
        turned = math.fmod(rotation, 360.0)
        return turned - 360.0 if turned > 180 else turned + 360.0 if turned <= -180 else turned

    def clean(self):
        cleaned = super().clean()
        image, question, shape = self.image, cleaned.get("question"), cleaned.get("shape")
        if image is None or shape is None:
            return cleaned
        if question is not None and question.series_id != image.series_id:
            self.add_error(
                "question",
                f"This image is in the series “{image.series.label}”, not in the question's series "
                f"“{question.series.label}”: draw the question's targets on that series' images.",
            )
        if question is None and not (cleaned.get("prompt") or "").strip():
            cleaned["prompt"] = DEFAULT_PROMPT
        polygon = shape == LesionTarget.Shape.POLYGON
        own_fields = ["points"] if polygon else ELLIPSE_FIELDS
        if any(self.has_error(name) for name in own_fields):
            return cleaned  # a value that is not even a number or JSON is said once, beside its field
        try:
            validate_target(
                shape=shape,
                columns=image.columns,
                rows=image.rows,
                points=cleaned.get("points") if polygon else None,
                **{name: cleaned.get(name) for name in ELLIPSE_FIELDS if not polygon},
            )
        except ValidationError as error:
            for name, messages in error.message_dict.items():
                self.add_error(name if name in self.fields else None, messages)
        # Only the shape's own fields are kept: a polygon has no centre, an ellipse no points.
        if polygon:
            cleaned.update(dict.fromkeys(ELLIPSE_FIELDS), rotation=0.0)
        else:
            cleaned["points"] = []
        return cleaned


class LesionTargetFormSet(BaseInlineFormSet):
    """An image's targets. Its questions are those of the image's series; rows left without a question
    make one new question per prompt. A save that changes anything is a revision of the case, by
    ``editor`` (set on the class the inline makes for each request)."""

    editor = None

    def add_fields(self, form, index):
        super().add_fields(form, index)
        form.instance.image = self.instance  # read once for every row's checks
        series_id = self.instance.series_id if self.instance.pk else None
        form.fields["question"].queryset = LocalisationQuestion.objects.filter(series_id=series_id)

    def save(self, commit=True):
        if not commit or not self.has_changed():
            return super().save(commit)
        image = self.instance
        case = image.series.study.case
        with transaction.atomic(), reversion.create_revision():
            self._new_questions(image, case)
            saved = super().save(commit)
            reversion.add_to_revision(case)
            reversion.set_user(self.editor)
            reversion.set_comment(f"Lesion targets changed on image {image.pk} of “{image.series.label}”.")
        return saved

    def _new_questions(self, image: Image, case) -> None:
        """One new question for each prompt given to rows drawn without a question."""
        new = [
            form
            for form in self.forms
            if form.has_changed() and form not in self.deleted_forms and form.cleaned_data
            if form.cleaned_data.get("question") is None
        ]
        made = {}
        order = LocalisationQuestion.objects.filter(case=case).aggregate(top=Max("order"))["top"] or 0
        for form in new:
            prompt = form.cleaned_data["prompt"].strip()
            if prompt not in made:
                order += 1
                made[prompt] = LocalisationQuestion.objects.create(
                    case=case, series=image.series, prompt=prompt, order=order
                )
            form.instance.question = made[prompt]


class LocalisationQuestionForm(WellFormedIdsMixin, forms.ModelForm):
    """A localisation question in the case editor: its series must be one of the case's."""

    class Meta:
        model = LocalisationQuestion
        fields = ["order", "series", "prompt"]

    def clean(self):
        cleaned = super().clean()
        series: Series | None = cleaned.get("series")
        case_id = self.instance.case_id
        if series is not None and case_id is not None and series.study.case_id != case_id:
            self.add_error(
                "series", f"The series “{series.label}” belongs to another case: choose one of this case's."
            )
        return cleaned
