"""Headings that name a case without its answer, for the archive list and the feeds.

Built from an allow-list of fields, never from the case's title: the title is meant to be neutral, but
the quiz does not trust it (a title can name the diagnosis by mistake), and neither do these. Age and sex
are on the quiz page before the reveal; top-level regions and modalities are what the quiz's own start
page and review list show before a case is answered.
"""

from cases.models import Case
from cases.regions import RegionTree
from cases.templatetags.case_extras import age_sex
from quiz.progress import modality_names, top_level_region_names

SEPARATOR = " · "


def neutral_heading(case: Case, tree: RegionTree) -> str:
    """ "47-year-old, female · Spine · MRI, CT" (age and sex, top-level regions, modalities), from the
    case's prefetched regions and findings."""
    parts = [age_sex(case)]
    regions = top_level_region_names(case, tree)
    if regions:
        parts.append(", ".join(regions))
    modalities = modality_names(case)
    if modalities:
        parts.append(", ".join(modalities))
    return SEPARATOR.join(parts)
