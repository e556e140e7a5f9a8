"""The PS3.15 Annex E Basic Application Level Confidentiality Profile, from a maintained source.

The actions of Table E.1-1 are read from the tables that ``dicom-anonymizer`` ships
(``dicomanonymizer.dicom_anonymization_databases``, generated from the standard's own
tables; the 2026c edition here), through its public selector
``dicom_anonymization_database_selector``: they are not typed by hand. Each attribute
of the table belongs to one category, named after the actions the standard allows for it:

======================  ==========================================================
``D``                   replace with a non-zero-length dummy value
``Z``                   replace with a zero-length value
``X``                   remove
``U``                   replace the UID with a new one, consistently
``Z_D``, ``X_Z``,       any one of the actions named (``X_Z_U*``: remove, empty, or
``X_D``, ``X_Z_D``,     replace the UIDs inside the sequence)
``X_Z_U*``
======================  ==========================================================

A few entries cover a whole range of groups with a mask (curves 50xx, overlays 60xx);
:func:`basic_profile_category` matches those too.
"""

from __future__ import annotations

import functools

from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector

__all__ = [
    "ANNEX_E_EDITION",
    "basic_profile_categories",
    "basic_profile_category",
    "basic_profile_masked_entries",
]

#: The edition of the standard's tables used (a module of dicom-anonymizer's databases).
ANNEX_E_EDITION = "dicomfields_2026c"

_CATEGORIES = {
    "D_TAGS": "D",
    "Z_TAGS": "Z",
    "X_TAGS": "X",
    "U_TAGS": "U",
    "Z_D_TAGS": "Z_D",
    "X_Z_TAGS": "X_Z",
    "X_D_TAGS": "X_D",
    "X_Z_D_TAGS": "X_Z_D",
    "X_Z_U_STAR_TAGS": "X_Z_U*",
}


@functools.cache
def _tables() -> tuple[dict[int, str], tuple[tuple[int, int, int, int, str], ...]]:
    """(tag -> category, and (group, element, group mask, element mask, category) entries)."""
    database = dicom_anonymization_database_selector(ANNEX_E_EDITION)
    exact: dict[int, str] = {}
    masked: list[tuple[int, int, int, int, str]] = []
    for name, category in _CATEGORIES.items():
        for entry in database[name]:
            if len(entry) == 2:
                exact[(entry[0] << 16) | entry[1]] = category
            else:
                masked.append((*entry, category))
    return exact, tuple(masked)


def basic_profile_categories() -> dict[int, str]:
    """Every attribute named one by one in Table E.1-1: tag (as an int) -> category.

    Returns
    -------
    dict of int to str
        A new dictionary (the masked group ranges are not in it: see
        :func:`basic_profile_masked_entries`).
    """
    return dict(_tables()[0])


def basic_profile_masked_entries() -> tuple[tuple[int, int, int, int, str], ...]:
    """Table E.1-1's entries for ranges of groups: (group, element, group mask, element mask, category)."""
    return _tables()[1]


@functools.lru_cache(maxsize=4096)
def basic_profile_category(tag: int) -> str | None:
    """The category of `tag` in PS3.15 Table E.1-1, or None if the table does not name it.

    Parameters
    ----------
    tag : int
        The attribute's tag, ``(group << 16) | element``.

    Returns
    -------
    str or None
        ``"D"``, ``"Z"``, ``"X"``, ``"U"``, ``"Z_D"``, ``"X_Z"``, ``"X_D"``, ``"X_Z_D"`` or
        ``"X_Z_U*"``.
    """
    exact, masked = _tables()
    category = exact.get(tag)
    if category is not None:
        return category
    group, element = tag >> 16, tag & 0xFFFF
    for entry_group, entry_element, group_mask, element_mask, entry_category in masked:
        if group & group_mask == entry_group and element & element_mask == entry_element:
            return entry_category
    return None
