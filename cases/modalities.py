"""Modalities by their DICOM codes (PS3.3 C.7.3.1.1.1), the vocabulary of the ``modality`` filter.

Computed radiography (CR) and digital radiography (DX) are both "a radiograph" to a reader, so a
filter on either code finds both.
"""

MODALITY_CHOICES = [
    ("CR", "Radiograph"),
    ("DX", "Radiograph (digital)"),
    ("CT", "CT"),
    ("MR", "MRI"),
    ("NM", "Nuclear medicine"),
    ("PT", "PET"),
    ("US", "Ultrasound"),
    ("MG", "Mammography"),
    ("XA", "Angiography"),
    ("RF", "Fluoroscopy"),
    ("OT", "Other"),
]

MODALITY_LABELS = dict(MODALITY_CHOICES)

_EQUIVALENT_CODES = [{"CR", "DX"}]


def modality_codes_matching(code: str) -> set[str]:
    """All codes a filter on ``code`` should match (``CR`` → ``{"CR", "DX"}``)."""
    code = code.upper()
    for group in _EQUIVALENT_CODES:
        if code in group:
            return set(group)
    return {code}


def archive_code(code: str) -> str:
    """A file's DICOM Modality as the archive files it: one of its own codes, or "OT" (Other) for any
    code it has no choice for (RTDOSE, SC …)."""
    code = code.strip().upper()
    return code if code in MODALITY_LABELS else "OT"


def modality_matches(file_code: str, series_code: str) -> bool:
    """Whether a file of DICOM Modality ``file_code`` belongs in a study of ``series_code``: the same
    modality, an equivalent one (a CR file in a DX study), or one the archive files as Other in an
    "Other" study."""
    return archive_code(file_code) in modality_codes_matching(series_code)


def facet_key(code: str) -> str:
    """The code a facet counts under: equivalent codes are counted together, under the first."""
    return min(modality_codes_matching(code))


def modality_labels(codes) -> list[str]:
    """Modality codes as readers name them ("MRI", not "MR"), equivalent codes once ("Radiograph")."""
    return list(dict.fromkeys(MODALITY_LABELS.get(facet_key(code), code) for code in codes))
