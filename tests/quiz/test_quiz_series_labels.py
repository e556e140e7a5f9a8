"""The allow-list of technique words that a series label must keep to before the quiz reveal
(``quiz.technique_vocabulary``); the pages themselves are checked in ``tests/helpers/leaks.py``."""

import pytest

from quiz.technique_vocabulary import TECHNIQUE_WORDS, is_technique_label


@pytest.mark.parametrize(
    "label",
    [
        "Sagittal T2",
        "Axial CT bone window",
        "Post-contrast T1 fat-sat",
        "Axial T1 post gadolinium",
        "Coronal STIR",
        "Axial DWI b1000 and ADC map",
        "Axial T2* GRE",
        "Sagittal T1-weighted, fat-saturated",
        "Coronal localiser",
        "Coronal localizer",
        "CT portal venous phase, 5 mm MPR",
        "Arterial phase MIP 10mm",
        "3D volume rendering",
        "AP and lateral radiographs",
        "PA chest",  # not shown: "chest" is anatomy
        "Axial CT lung window",
        "Soft tissue window, 1.5 mm",
        "Delayed phase, 10 min",
        "Axial T1 in-phase and opposed-phase",
        "Whole-body scintigram",
        "MRI 3T sagittal PD",
        "Pre- and post-contrast T1",
        "Scout",
    ],
)
def test_technique_labels_are_shown(label):
    assert is_technique_label(label) is (label != "PA chest")


@pytest.mark.parametrize(
    "label",
    [
        "Vertebral haemangioma, sagittal T1",
        "After coiling",
        "IOH",
        "Okonkwo sagittal T2",
        "St Bartholomew's CT",
        "GCT axial",
        "Post-embolisation angiogram",
        "Post-op sagittal T2",
        "After chemo, axial",
        "Radiotherapy planning CT",
        "CT-guided biopsy",
        "Laminectomy follow-up",
        "Schwannoma protocol, axial",
        "Whole-spine MRI",  # anatomy is not technique (a sub-region's name is part of the answer)
        "MM",  # a unit only after a number: alone it is multiple myeloma's shorthand
        "Axial T1 MM",
        "",
        "  ,  ",
    ],
)
def test_anything_else_withholds_the_whole_label(label):
    assert is_technique_label(label) is False


def test_the_vocabulary_is_stored_as_search_normalises_it():
    # British spellings are folded on both sides, so either spelling of a label matches.
    assert "localizer" in TECHNIQUE_WORDS and "localiser" not in TECHNIQUE_WORDS
    assert "color" in TECHNIQUE_WORDS and "colour" not in TECHNIQUE_WORDS
    assert is_technique_label("Colour Doppler") and is_technique_label("Color Doppler")
