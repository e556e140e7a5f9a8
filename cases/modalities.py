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


def facet_key(code: str) -> str:
    """The code a facet counts under: equivalent codes are counted together, under the first."""
    return min(modality_codes_matching(code))


def modality_labels(codes) -> list[str]:
    """Modality codes as readers name them ("MRI", not "MR"), equivalent codes once ("Radiograph")."""
    return list(dict.fromkeys(MODALITY_LABELS.get(facet_key(code), code) for code in codes))
