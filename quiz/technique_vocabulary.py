"""The words a series label may use before the quiz reveal: an allow-list of imaging technique.

A label is shown on the unrevealed quiz page only if every word of it is here (planes, sequences,
weightings, contrast phases, windows, views, reconstructions, modalities), a number, or a unit
right after a number ("5 mm", "3T"). Anything else — a diagnosis or its abbreviation ("IOH"), a
treatment ("After coiling"), a surname, a hospital, an anatomical site — withholds the whole
label, which the quiz then calls "Series N". An allow-list, not a block-list: no list of answers
or treatments can be complete, but a label made only of technique words cannot name one.

A word is added here only if it says how the images were made, never what they show; anatomy is
left out on purpose (a sub-region's name is part of the answer), except the CT window names.
Words are compared as search normalises them (``cases.spelling``: lower case, accents off,
British spelling folded), so "localiser" and "localizer", "fat-saturated" and "fat saturated" all
match.
"""

import re

from cases.spelling import normalise_words

_TECHNIQUE_TEXT = """
    axial sagittal coronal oblique transverse longitudinal frontal lateral lat ap pa decubitus supine
    prone erect upright flexion extension plane planes view views projection projections
    t1 t2 t1w t2w t1wi t2wi pd pdw flair stir dwi dwibs adc swi gre se fse tse ir dir spin echo gradient
    inversion recovery dixon water fat phase opposed in out of spair spir ssfp fiesta ciss space vibe
    lava thrive mprage bravo spgr flash haste ssfse trufisp truefisp bffe mrcp mra mrv tof time flight
    pc perfusion diffusion tensor dti dce dsc b susceptibility
    weighted weighting fatsat sat fs saturated saturation suppressed suppression
    pre post contrast gadolinium gad gd enhanced enhancement unenhanced non noncontrast iodinated iv
    arterial portal venous portovenous pv early late delayed equilibrium nephrographic
    corticomedullary excretory urographic hepatobiliary subtraction subtracted bolus
    dual energy iodine virtual monoenergetic kev map maps
    window windows bone lung soft tissue mediastinal
    mip minip mpr vr vrt 3d 2d 4d volume volumetric rendering rendered surface shaded curved cpr
    reformat reformats reformatted reconstruction reconstructions reconstructed recon multiplanar
    isotropic thin thick slab slice slices section sections high resolution hrct kernel sharp
    cine dynamic static localiser localizer scout topogram survey tri
    ct mr mri cta ctv us ultrasound sonography sonogram doppler colour color power duplex greyscale
    radiograph radiographs radiography x ray film plain cr dx nm scintigraphy scintigram scan spect
    pet angiography angiogram dsa fluoroscopy fluoroscopic mammography mammogram tomosynthesis
    cone beam cbct whole body
    image images series frame frames and with without only c
"""
TECHNIQUE_WORDS = frozenset(normalise_words(_TECHNIQUE_TEXT))

# Units, allowed only straight after a number: "MM" on its own is also shorthand for multiple myeloma.
UNITS = frozenset(normalise_words("mm cm ms s sec t hu kv kvp mas ml min mins minute minutes h hour hours"))
NUMBER = re.compile(r"\d+")
# A number with its unit or letter in one word: "5mm", "3t", "b1000".
NUMBER_WITH_UNIT = re.compile(r"(\d+(?P<unit>[a-z]+)|b\d+)")


def is_technique_label(label: str) -> bool:
    """Whether every word of ``label`` is technique, a number, or a unit after a number."""
    words = normalise_words(label)
    if not words:
        return False
    previous = ""
    for word in words:
        if not (
            word in TECHNIQUE_WORDS
            or NUMBER.fullmatch(word)
            or (word in UNITS and NUMBER.fullmatch(previous))
            or _number_with_unit(word)
        ):
            return False
        previous = word
    return True


def _number_with_unit(word: str) -> bool:
    match = NUMBER_WITH_UNIT.fullmatch(word)
    return match is not None and (match.group("unit") is None or match.group("unit") in UNITS)
