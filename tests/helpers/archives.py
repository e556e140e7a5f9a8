"""A small archive the page-cache tests share: three sacral chordomas (MR, tag "bone"), one chest case (CT,
tag "lung") and, when asked, one lumbar case (MR, tag "bone")."""


def small_archive(make_case, region_tree, diagnosis, *, with_lumbar: bool = False):
    """Make the cases; return the chordoma diagnosis they share."""
    chordoma = diagnosis("Chordoma")
    for n in range(3):
        make_case(
            slug=f"sacral-{n}",
            findings=["MR"],
            regions=[region_tree["sacrum"]],
            tags=["bone"],
            final_diagnosis=chordoma,
            sex="F",
        )
    make_case(slug="chest-0", findings=["CT"], regions=[region_tree["chest"]], tags=["lung"], sex="M")
    if with_lumbar:
        make_case(slug="lumbar-0", findings=["MR"], regions=[region_tree["lumbar"]], tags=["bone"], sex="F")
    return chordoma
