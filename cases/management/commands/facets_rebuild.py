"""``manage.py facets_rebuild``: compute every case's facet sets and the published counts again.

For after a load that sent no signals (``loaddata``, a restore), or to check the maintained counts:
the receivers keep them current otherwise (``cases/facet_upkeep.py``).
"""

from django.core.management.base import BaseCommand

from cases.facet_rows import facets_rebuild


class Command(BaseCommand):
    help = "Compute the facet sets of every case and the published facet counts again."

    def handle(self, *args, **options):
        cases = facets_rebuild()
        self.stdout.write(f"Facet sets and counts rebuilt from {cases} cases.")
