"""A case whose series suit the viewer tests: a positioned MR stack, a second one to link, a CT slice;
and the series form's data, for the tests that post it."""

import io

import pydicom

from imaging.demo import SAMPLE_DIR
from imaging.inputs import InputFile
from imaging.models import Annotation, Image
from imaging.services import images_ingest, series_create


def positioned_slices(count: int, spacing: float, *, base: str = "MR_small.dcm") -> list[InputFile]:
    """Real MR slices placed along z with no InstanceNumber, so position alone orders and links them."""
    files = []
    for n in range(count):
        dataset = pydicom.dcmread(SAMPLE_DIR / base)
        del dataset.InstanceNumber
        dataset.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        dataset.ImagePositionPatient = [0, 0, n * spacing]
        # Vary the pixels so that each slice is visibly different when scrolled.
        pixels = dataset.pixel_array.copy()
        pixels[: 4 + 4 * n, :] = pixels.max()
        dataset.PixelData = pixels.tobytes()
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        files.append(InputFile(f"slice{n}.dcm", buffer.getvalue()))
    return files


def build_viewer_case(make_case, diagnosis) -> dict:
    case = make_case(slug="viewer-case", final_diagnosis=diagnosis("Chordoma"), findings=["MR", "CT"])
    t1 = series_create(case=case, label="Axial T1", modality="MR")
    images_ingest(series=t1, files=positioned_slices(10, 5.0))
    t2 = series_create(case=case, label="Axial T2", modality="MR")
    images_ingest(series=t2, files=positioned_slices(5, 10.0))
    ct = series_create(case=case, label="Axial CT", modality="CT")
    images_ingest(series=ct, files=[InputFile("ct.dcm", (SAMPLE_DIR / "CT_small.dcm").read_bytes())])
    ct.teaching_preset, ct.teaching_slice, ct.teaching_zoom = "bone", 1, 2.0
    ct.save()
    fourth = t1.images.get(order=4)
    Annotation.objects.create(image=fourth, kind="arrow", x=0.5, y=0.5, tail_x=0.8, tail_y=0.2, text="Lesion")
    return {"case": case, "t1": t1, "t2": t2, "ct": ct, "annotated": fourth, "images": Image.objects.all()}


def series_fields(series, **changes) -> dict:
    """The series form's own fields, as the series has them, with `changes` on top."""
    return {
        "study": series.study_id,
        "label": series.label,
        "finding": "",
        "order": series.order,
        "teaching_preset": "",
        "teaching_slice": "",
        "teaching_zoom": "1",
        **changes,
    }


def series_admin_form(series, images=(), **extra) -> dict:
    """The admin's series page as posted: the form, and the image inline with `images` unchanged."""
    data = {
        **series_fields(series),
        "images-TOTAL_FORMS": str(len(images)),
        "images-INITIAL_FORMS": str(len(images)),
        "images-MIN_NUM_FORMS": "0",
        "images-MAX_NUM_FORMS": "1000",
    }
    for n, image in enumerate(images):
        data |= {
            f"images-{n}-id": str(image.pk),
            f"images-{n}-series": str(series.pk),
            f"images-{n}-order": str(image.order),
            f"images-{n}-caption": "",
        }
    return {**data, **extra}


def sample_file(name: str) -> InputFile:
    """One of pydicom's sample files, as an upload."""
    return InputFile(name, (SAMPLE_DIR / name).read_bytes())


def post_upload(client, url: str, data: dict, capture_on_commit):
    """Post an admin form with an upload, run the queued ingest as a worker would (the tests' immediate
    backend runs each task at once, once the request's transaction commits), and return the answer
    to the post and the upload's page as it then stands."""
    with capture_on_commit(execute=True):
        response = client.post(url, data)
    page = client.get(response["Location"]) if response.status_code == 302 else None
    return response, page


def run_queued_uploads(callbacks) -> None:
    """Run, of a request's captured on-commit callbacks, only the enqueueing of its upload's ingest (which
    the tests' immediate backend runs at once): not the deletion of files, which tests sharing one
    media folder across rolled-back transactions must not see."""
    from imaging.ingest_tasks import upload_ingest

    for callback in callbacks:
        if getattr(callback, "func", None) == upload_ingest.enqueue:
            callback()


def image_page_inlines(*, annotations: int = 0, lesion_targets: int = 0) -> dict:
    """The management forms of the image page's inlines, `annotations` and `lesion_targets` new rows
    each: its arrows, and the lesion targets quiz adds (``imaging.extensions.image_admin_inlines``)."""
    return {
        f"{prefix}-{name}": value
        for prefix, total in [("annotations", annotations), ("lesion_targets", lesion_targets)]
        for name, value in [
            ("TOTAL_FORMS", str(total)),
            ("INITIAL_FORMS", "0"),
            ("MIN_NUM_FORMS", "0"),
            ("MAX_NUM_FORMS", "1000"),
        ]
    }
