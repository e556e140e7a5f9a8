"""The region tree, loaded once per request in a single query.

Regions are few (tens), so walking the tree in Python is cheaper and simpler than a recursive
query or a stored materialised path that every save would have to keep right.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

from cases.models import Region


@dataclass
class RegionTree:
    regions: list[Region]
    by_slug: dict[str, Region] = field(init=False)
    by_id: dict[int, Region] = field(init=False)
    _children: dict[int | None, list[Region]] = field(init=False)

    def __post_init__(self) -> None:
        self.by_slug = {region.slug: region for region in self.regions}
        self.by_id = {region.pk: region for region in self.regions}
        self._children = {}
        for region in self.regions:
            self._children.setdefault(region.parent_id, []).append(region)

    def children(self, region: Region | None) -> list[Region]:
        return self._children.get(region.pk if region else None, [])

    def descendant_ids(self, region: Region) -> set[int]:
        """The region's own id and the ids of every region below it."""
        ids = {region.pk}
        for child in self.children(region):
            ids |= self.descendant_ids(child)
        return ids

    def ancestors(self, region: Region) -> list[Region]:
        """From the root down to the region's parent."""
        chain = []
        parent_id = region.parent_id
        while parent_id is not None:
            parent = self.by_id[parent_id]
            chain.append(parent)
            parent_id = parent.parent_id
        return list(reversed(chain))

    def walk(self, region: Region | None = None, depth: int = 0) -> Iterator[tuple[Region, int]]:
        """Every region below ``region`` (the whole tree by default) in display order, with its depth."""
        for child in self.children(region):
            yield child, depth
            yield from self.walk(child, depth + 1)


def load_region_tree() -> RegionTree:
    return RegionTree(list(Region.objects.all()))
