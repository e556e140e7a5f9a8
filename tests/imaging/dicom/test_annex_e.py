"""Our actions held against PS3.15 Table E.1-1, attribute by attribute.

The table comes from dicom-anonymizer's machine-readable copy of the standard
(``dicomanonymizer.dicom_anonymization_databases``), read here straight from the package, not
through the module under test. Everywhere our action must be at least as strict as the
table's, except for the reviewed exceptions of the Retain options we apply.
"""

from __future__ import annotations

import pytest
from dicomanonymizer.dicomfields_selector import dicom_anonymization_database_selector
from pydicom.datadict import dictionary_VR, keyword_dict, keyword_for_tag

from imaging.dicom.annex_e import ANNEX_E_EDITION, basic_profile_category
from imaging.dicom.deidentify import ACTIONS, planned_action
from imaging.dicom.keep_list import KEEP, RETAIN_OPTION_EXCEPTIONS

# How much of the original value each of our actions lets through: nothing (removed, emptied,
# a dummy), a keyed replacement (a new UID), or some of it (shifted, capped, kept).
NOTHING = {"X", "Z", "D"}
REPLACEMENT = NOTHING | {"U"}
# What each category of the table demands of our action.
DEMANDS = {
    "X": NOTHING,
    "Z": NOTHING,
    "D": NOTHING,
    "Z_D": NOTHING,
    "X_Z": NOTHING,
    "X_D": NOTHING,
    "X_Z_D": NOTHING,
    "U": REPLACEMENT,
    "X_Z_U*": REPLACEMENT,  # a sequence: removed, emptied, or its UIDs replaced
}
# What the options allow for the excepted attributes (PS3.15 E.3.6, E.3.7).
OPTION_ACTIONS = {"K", "A", "S"}
CATEGORY_LISTS = {
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


def _table() -> list[tuple[tuple[int, ...], str]]:
    database = dicom_anonymization_database_selector(ANNEX_E_EDITION)
    return [(entry, category) for name, category in CATEGORY_LISTS.items() for entry in database[name]]


def _tags(entry: tuple[int, ...]) -> list[int]:
    """The tag of a plain entry; for a masked one (curves 50xx, overlays 60xx), a few it covers."""
    if len(entry) == 2:
        return [(entry[0] << 16) | entry[1]]
    group, element, group_mask, element_mask = entry
    groups = [group, group | (~group_mask & 0xFFFF & 0x001E)]
    elements = [element] if element_mask == 0xFFFF else [element | 0x0010, element | 0x3000]
    return [(g << 16) | e for g in groups for e in elements]


TABLE = _table()


def test_the_table_is_the_standards_size():
    # Table E.1-1 has some 650 rows; a failed or truncated read would pass every check below.
    assert len(TABLE) > 600
    assert sum(len(entry) == 4 for entry, _ in TABLE) >= 3  # the curve and overlay ranges


@pytest.mark.parametrize(("entry", "category"), TABLE, ids=lambda value: str(value))
def test_our_action_is_at_least_as_strict_as_the_basic_profile(entry, category):
    for tag in _tags(entry):
        keyword = keyword_for_tag(tag)
        for nested in (False, True):
            ours = planned_action(tag, nested=nested)
            assert ours in ACTIONS
            if keyword in RETAIN_OPTION_EXCEPTIONS:
                assert ours in OPTION_ACTIONS | DEMANDS[category], (keyword, ours)
            else:
                assert ours in DEMANDS[category], f"{keyword or hex(tag)}: table {category}, ours {ours}"


def test_the_module_reads_the_same_table():
    for entry, category in TABLE:
        for tag in _tags(entry):
            assert basic_profile_category(tag) == category, hex(tag)


def test_every_exception_is_needed_and_reviewed():
    # An exception the table does not need, or that no option covers, would hide a mistake.
    exceptions = {}
    for entry, category in TABLE:
        for tag in _tags(entry):
            keyword = keyword_for_tag(tag)
            if planned_action(tag) not in DEMANDS[category]:
                exceptions[keyword] = planned_action(tag)
    assert set(exceptions) == set(RETAIN_OPTION_EXCEPTIONS)
    for keyword, action in exceptions.items():
        assert action in OPTION_ACTIONS
        reason = RETAIN_OPTION_EXCEPTIONS[keyword]
        assert "Option (113108" in reason or "Option (113107" in reason, keyword
    patient = {k for k, reason in RETAIN_OPTION_EXCEPTIONS.items() if "113108" in reason}
    assert patient == {"PatientAge", "PatientSex", "PatientSize", "PatientWeight"}
    dates = [k for k in RETAIN_OPTION_EXCEPTIONS if dictionary_VR(keyword_dict[k]) in ("DA", "DT")]
    assert len(dates) == 5 and all(exceptions[k] == "S" for k in dates)


def test_what_the_table_does_not_name_is_removed_unless_kept():
    # The keep list decides; everything else the table does not name goes.
    assert planned_action(keyword_dict["WindowCenterWidthExplanation"]) == "X"
    assert planned_action(keyword_dict["TextValue"]) == "X"
    assert planned_action(keyword_dict["PatientBirthDateInAlternativeCalendar"]) == "X"
    assert planned_action(keyword_dict["HL7InstanceIdentifier"]) == "X"
    assert planned_action(0x00100FF0, "PN") == "X"  # a public tag no dictionary knows
    assert planned_action(0x00291010, "LO") == "X"  # private
    for keyword, how in KEEP.items():
        assert planned_action(keyword_dict[keyword]) == how
