"""The arrow editor's form: a person counts frames from 1, the database and image URLs from 0."""

from django import forms

from imaging.models import Annotation


class AnnotationForm(forms.ModelForm):
    frame = forms.IntegerField(
        min_value=1,
        initial=1,
        label="Frame",
        help_text="Counting from 1, as the viewer's slice counter does.",
    )

    class Meta:
        model = Annotation
        fields = ["frame", "kind", "x", "y", "tail_x", "tail_y", "text", "finding"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["frame"] = self.instance.frame + 1

    def clean_frame(self) -> int:
        """The stored index (from 0) of the frame number given, which the image must have."""
        number = self.cleaned_data["frame"]
        image = self.instance.image if self.instance.image_id else None
        if image is not None and number > image.frame_count:
            raise forms.ValidationError(
                f"This image has {image.frame_count} frame(s); choose 1 to {image.frame_count}."
            )
        return number - 1
