"""The seed cases' slugs and small helpers for search tests."""

import re

from cases.models import Case, Finding

SACRAL = "back-and-left-leg-pain-47f"


THALASSAEMIA = "acute-back-pain-29m"


AML = "lumbosacral-mri-and-chest-ct"


def found(client, q: str, **filters) -> list[str]:
    """Slugs of the listed cases, in the order shown."""
    response = client.get("/cases/", {"q": q, **filters})
    assert response.status_code == 200
    html = response.content.decode()
    return re.findall(r'<h3><a href="/cases/([^/]+)/">', html[html.index('class="results"') :])


def add_finding(case: Case, text: str, modality: str = "MR") -> Finding:
    order = case.findings.count() + 1
    return Finding.objects.create(case=case, modality=modality, text=text, order=order)


def facet_count(html: str, label: str) -> int | None:
    """The count shown beside a facet value in a list page's filters, or None if the value is not shown."""
    facets = html[html.index('class="filters"') : html.index('class="results"')]
    match = re.search(rf">{re.escape(label)} <span class=\"count\">(\d+)</span>", facets)
    return int(match.group(1)) if match else None
