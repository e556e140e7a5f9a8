"""A window preset the series offers but one of its images lacks falls back to the default window.

A series takes its presets from its first image, so in a mixed upload (a CT series with a PNG or an
MR slice in it) the viewer asks for "bone" of an image that has no such preset; that frame is then
shown in its default window rather than broken. A name that is no preset at all is still refused.
"""

from imaging.dicom.render import WINDOW_PRESETS
from imaging.models import Image
from imaging.rendering import presets_of

#: Every preset name of any modality: the names a viewer can legitimately ask for.
KNOWN_PRESETS = frozenset(name for presets in WINDOW_PRESETS.values() for name in presets)
DEFAULT_PRESET = "default"


def preset_for(image: Image, preset: str) -> str:
    """`preset` if `image` has it, the default window if it is another modality's preset, else `preset`
    unchanged (for the renderer to refuse)."""
    if preset in presets_of(image) or preset not in KNOWN_PRESETS:
        return preset
    return DEFAULT_PRESET
