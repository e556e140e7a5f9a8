"""Sample images for the demo's seed cases, from the DICOM files pydicom ships in its wheel.

None of them is from the seed patients (their images are not available): every series is marked
``is_sample`` and shows the badge "sample image — not from this patient", in quiz mode too, and its
label names what the file is rather than the study a finding describes; no series is linked to a
finding. Each file still goes through the real ingest, de-identification included.
"""

from dataclasses import dataclass
from pathlib import Path

import pydicom
from django.utils import timezone

from cases.models import Case
from imaging.inputs import InputFile
from imaging.services import images_ingest, series_create

SAMPLE_DIR = Path(pydicom.__file__).parent / "data" / "test_files"


@dataclass(frozen=True)
class DemoSeries:
    case_slug: str
    modality: str
    label: str
    files: tuple[str, ...]
    # Flagged for a burned-in text review on ingest, and its pixels looked at when it was chosen: no
    # text. The flag is cleared as an editor's look would, or the published seed case would withhold it
    # (``imaging.views`` serves a flagged image only to editors and the author).
    pixels_looked_at: bool = False


DEMO_SERIES = [
    DemoSeries(  # a secondary capture, so flagged; a whole-body bone scan with no text in its pixels
        "back-and-left-leg-pain-47f",
        "NM",
        "Sample image, JPEG extended",
        ("JPGExtended.dcm",),
        pixels_looked_at=True,
    ),
    DemoSeries("back-and-left-leg-pain-47f", "MR", "Sample MR slice", ("MR_small.dcm",)),
    DemoSeries("acute-back-pain-29m", "MR", "Sample MR slice with overlay", ("examples_overlay.dcm",)),
    DemoSeries("lumbosacral-mri-and-chest-ct", "CT", "Sample CT slices", ("CT_small.dcm", "693_J2KI.dcm")),
    DemoSeries(
        "lumbosacral-mri-and-chest-ct",
        "MR",
        "Sample MR slice, several encodings",
        ("MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm"),
    ),
    # pydicom's multi-frame samples are an RT dose grid, an ultrasound cine and secondary captures;
    # the dose grid (10 x 10 pixels, 15 frames) is the small one, and the only one not flagged for
    # a burned-in text review. Its study is "OT" (Other): RT dose is not one of the archive's modalities.
    DemoSeries("lumbosacral-mri-and-chest-ct", "OT", "Sample dose grid, 15 frames", ("rtdose.dcm",)),
]


def demo_images_ensure(*, slugs: set[str] | None = None) -> list[str]:
    """Attach the sample series to seed cases that have no images yet (only the cases of `slugs`, when
    given: a test that needs one case with images skips ingesting the others); returns what was added."""
    added = []
    wanted = {s.case_slug for s in DEMO_SERIES} if slugs is None else set(slugs)
    cases = {case.slug: case for case in Case.objects.filter(slug__in=wanted)}
    without_images = {slug for slug, case in cases.items() if not case.studies.exists()}
    for demo in DEMO_SERIES:
        if demo.case_slug not in without_images:
            continue
        case = cases[demo.case_slug]
        series = series_create(case=case, label=demo.label, modality=demo.modality, is_sample=True)
        files = [InputFile(name, (SAMPLE_DIR / name).read_bytes()) for name in demo.files]
        result = images_ingest(series=series, files=files)
        if result.rejected:
            raise RuntimeError(f"Demo image rejected: {result.rejected[0].name}: {result.rejected[0].reason}")
        if demo.pixels_looked_at:
            series.images.filter(needs_review=True).update(reviewed_at=timezone.now())
        added.append(f"{case.slug}: {demo.label} ({len(result.accepted)} image(s))")
    return added
