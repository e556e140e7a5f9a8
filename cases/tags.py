"""Tag upkeep from the admin: merging tags, and keeping search documents in step with tag names.

Cases are tagged through :class:`cases.models.TaggedCase` (a real foreign key to the case), not
through taggit's generic ``TaggedItem``. taggit's own "merge tags" page moves only generic items,
so on this archive it said "Tags have been merged" and changed no case: :func:`tags_merge` does it
for cases. A case's search document holds its tag names, so renaming, merging or deleting a tag
refreshes the documents of the cases that carry it.
"""

from collections.abc import Iterable

from django.db import transaction
from taggit.models import Tag

from cases.models import TaggedCase


def tagged_case_ids(tags: Iterable[Tag] | Tag) -> list[int]:
    tags = [tags] if isinstance(tags, Tag) else list(tags)
    return list(
        TaggedCase.objects.filter(tag__in=tags).values_list("content_object_id", flat=True).distinct()
    )


@transaction.atomic
def tags_merge(*, tag_ids: Iterable[int], new_name: str) -> Tag:
    """Tag every case that carries one of `tag_ids` with `new_name` instead, and delete those tags.

    The tag named `new_name` is made if there is none (a selected tag may be it: it stays). A case
    that carries several of them keeps one. Returns the tag merged into.
    """
    from cases.search import search_documents_refresh

    into = Tag.objects.filter(name=new_name).first() or Tag.objects.create(name=new_name)
    merged = list(Tag.objects.filter(pk__in=list(tag_ids)).exclude(pk=into.pk))
    case_ids = tagged_case_ids([*merged, into])
    already = set(TaggedCase.objects.filter(tag=into).values_list("content_object_id", flat=True))
    for link in TaggedCase.objects.filter(tag__in=merged).order_by("pk"):
        if link.content_object_id in already:
            link.delete()
        else:
            link.tag = into
            link.save(update_fields=["tag"])
            already.add(link.content_object_id)
    for tag in merged:
        tag.delete()
    search_documents_refresh(case_ids=case_ids)
    return into


def search_after_tag_saved(*, tag: Tag) -> None:
    """A renamed tag: its cases' search documents hold the old name."""
    from cases.search import search_documents_refresh

    search_documents_refresh(case_ids=tagged_case_ids(tag))
