"""Helpers shared by the authoring tests (this module holds no tests of its own)."""

from django.utils import timezone
from taggit.forms import TagField
from taggit.utils import edit_string_for_tags

from cases.models import Case, Diagnosis, DifferentialItem, Finding
from cases.upkeep import case_upkeep_deferred
from imaging.demo import SAMPLE_DIR
from imaging.inputs import InputFile
from imaging.services import images_ingest, series_create


def diagnosis_named(name: str, **fields) -> Diagnosis:
    slug = name.lower().replace(" ", "-")
    return Diagnosis.objects.get_or_create(name=name, defaults={"slug": slug, **fields})[0]


def complete_case(
    *, slug: str = "back-pain-47f", status: str = Case.Status.DRAFT, author=None, **fields
) -> Case:
    """A case that satisfies every publication requirement: history, a finding, a final diagnosis
    with certainty, two differential items and one (unflagged) DICOM image."""
    final = diagnosis_named("Chordoma", synonyms=["notochordal tumour"])
    fields = {
        "title": "47-year-old woman with back pain",
        "clinical_history": "Back pain for seven weeks.",
        "final_diagnosis": final,
        "diagnosis_certainty": Case.Certainty.HISTOLOGY,
        "diagnosis_proof": "Biopsy.",
        **fields,
    }
    if status == Case.Status.PUBLISHED:
        fields.setdefault("published_at", timezone.now())
    with case_upkeep_deferred():  # search document and facet sets written once, when the case is whole
        case = Case.objects.create(slug=slug, status=status, author=author, **fields)
        Finding.objects.create(
            case=case, modality="MR", study="Sagittal T2", text="A lobulated sacral mass.", order=1
        )
        for order, name in enumerate(["Chordoma", "Giant cell tumour"], start=1):
            DifferentialItem.objects.create(case=case, diagnosis=diagnosis_named(name), order=order)
    add_image(case)
    return case


def add_image(case: Case, label: str = "Axial T2") -> None:
    series = series_create(case=case, label=label, modality="MR")
    images_ingest(series=series, files=[InputFile("slice.dcm", (SAMPLE_DIR / "MR_small.dcm").read_bytes())])


def form_data(response) -> dict:
    """The POST data an admin change form would send back as rendered: the form and its inlines."""
    data = {}
    context = response.context
    forms = [context["adminform"].form]
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = str(management[name].value())
        forms.extend(formset.forms)
    for form in forms:
        for name, field in form.fields.items():
            if field.disabled:
                continue
            value = form[name].value()
            key = form.add_prefix(name)
            if value is None or value is False:
                continue
            if isinstance(field, TagField):
                data[key] = value if isinstance(value, str) else edit_string_for_tags(value)
            elif value is True:
                data[key] = "on"
            elif isinstance(value, list | tuple):
                data[key] = [str(item) for item in value]
            else:
                data[key] = str(value) if not hasattr(value, "pk") else str(value.pk)
    return data


FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def empty_inlines() -> dict:
    """The management forms of the case admin's inlines (its own four, quiz's three), with no rows."""
    return {
        f"{prefix}-{name}": value
        for prefix in [
            "findings",
            "differential_items",
            "references",
            "studies",
            "questions",
            "quiz_format",
            "localisation_questions",
        ]
        for name, value in [
            ("TOTAL_FORMS", "0"),
            ("INITIAL_FORMS", "0"),
            ("MIN_NUM_FORMS", "0"),
            ("MAX_NUM_FORMS", "1000"),
        ]
    }


def new_case_data(**fields) -> dict:
    """The case admin's add form, filled in for a new case, with `fields` on top."""
    return {
        "title": "35-year-old man with knee pain",
        "slug": "knee-pain-35m",
        "age": "35",
        "sex": "M",
        "clinical_history": "Knee pain for a month.",
        **empty_inlines(),
        **fields,
    }
