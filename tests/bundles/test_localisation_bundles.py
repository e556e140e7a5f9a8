"""Bundles carry a series' localisation questions and their targets: after an import (new database keys
for every image) each target is on the image at the same place in its series, with its shape; a target
that breaks the rules (``quiz.localisation.validate_target``) or names no image is refused, naming where."""

import hashlib
import io
import json

import pytest

from bundles.services import BundleError, export_bundle, import_bundle
from cases.models import Case
from quiz.models import LesionTarget
from tests.helpers.authoring import complete_case
from tests.helpers.bundles import empty_the_archive, rewrite
from tests.helpers.localisation import (
    MR_SMALL,
    add_localisation,
    ellipse,
    images_of,
    polygon,
    series_with_images,
)

pytestmark = pytest.mark.django_db

TRIANGLE = [[3.5, 4.25], [40, 4], [20, 60.75]]


@pytest.fixture
def bundle(media_root) -> bytes:
    case = complete_case(slug="with-targets", status=Case.Status.PUBLISHED)
    series = series_with_images(case, MR_SMALL, MR_SMALL, label="Axial T1")
    first, second = images_of(series)
    add_localisation(case, series, polygon(second, TRIANGLE), prompt="Where is the mass?", order=2)
    add_localisation(case, series, ellipse(first, 30, 31, 6, 2.5, rotation=-35), order=3)
    buffer = io.BytesIO()
    export_bundle(Case.objects.all(), buffer)
    old_ids = {first.pk, second.pk}
    empty_the_archive()
    assert not LesionTarget.objects.exists()
    return buffer.getvalue(), old_ids


def test_targets_survive_a_round_trip_on_the_same_images(bundle):
    data, old_ids = bundle
    import_bundle(io.BytesIO(data))
    case = Case.objects.get(slug="with-targets")
    questions = list(case.localisation_questions.order_by("order"))
    assert [(q.prompt, q.order, q.series.label) for q in questions] == [
        ("Where is the mass?", 2, "Axial T1"),
        ("Click the abnormality", 3, "Axial T1"),
    ]
    first, second = images_of(questions[0].series)
    assert not {first.pk, second.pk} & old_ids  # re-keyed
    (drawn,) = questions[0].targets.all()
    assert (drawn.image, drawn.shape, drawn.points) == (second, "polygon", TRIANGLE)
    (oval,) = questions[1].targets.all()
    assert (oval.image, oval.center_x, oval.center_y, oval.radius_x, oval.radius_y, oval.rotation) == (
        first,
        30,
        31,
        6,
        2.5,
        -35,
    )


def edit_target(data: bytes, change) -> bytes:
    """The bundle with the first target of the first localisation question changed (and the manifest's
    checksum of the record recomputed, or the import would refuse the edit first)."""
    name = "cases/with-targets.json"

    def edit(entries):
        record = json.loads(entries[name])
        series = next(s for study in record["studies"] for s in study["series"] if s["label"] == "Axial T1")
        change(series["localisation_questions"][0]["targets"][0])
        entries[name] = json.dumps(record).encode()
        manifest = json.loads(entries["manifest.json"])
        manifest["files"][name] = hashlib.sha256(entries[name]).hexdigest()
        entries["manifest.json"] = json.dumps(manifest).encode()

    return rewrite(data, edit)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.update(image=3), "image 3 is not one of the series' 2 image(s)"),
        (lambda t: t.update(points=[[1, 1], [2, 2]]), "points: A polygon needs at least 3 points"),
        (lambda t: t.update(points=[[1, 1], [99, 2], [3, 3]]), "Point 2 (99, 2) is outside the image"),
        (lambda t: t.update(shape="circle"), "shape"),
        (lambda t: t.update(frame=1), "frame: Frame 1 is not a frame of this image"),
        (lambda t: t.update(colour="red"), "unknown field(s) 'colour'"),
    ],
)
def test_a_bad_target_is_refused_naming_where(bundle, change, message):
    data, _ = bundle
    with pytest.raises(BundleError) as raised:
        import_bundle(io.BytesIO(edit_target(data, change)))
    assert "localisation question 1, target 1" in str(raised.value)
    assert message in str(raised.value)
    assert not Case.objects.exists() and not LesionTarget.objects.exists()
