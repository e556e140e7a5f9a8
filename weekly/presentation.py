"""Headings that name a case without its answer, for the archive list and the feeds.

Built from an allow-list of fields, never from the case's title: the title is meant to be neutral, but
the quiz does not trust it (a title can name the diagnosis by mistake), and neither do these. Age and sex
are on the quiz page before the reveal, and the modalities are the images it shows. Regions are left
out: the quiz page shows none, a sub-region can be the answer ("Presacral space"), and an earlier case's
region, listed beside this week's quiz, could be a tag of this week's case.
"""

from cases.models import Case
from cases.templatetags.case_extras import age_sex
from quiz.progress import modality_names

SEPARATOR = " · "


def neutral_heading(case: Case) -> str:
    """A heading such as "47-year-old, female · Radiograph, MRI", from the case's prefetched findings."""
    modalities = modality_names(case)
    return SEPARATOR.join([age_sex(case), ", ".join(modalities)] if modalities else [age_sex(case)])
