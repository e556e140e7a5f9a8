from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Teaching cases"

    def ready(self) -> None:
        from cases import facet_upkeep, search_upkeep, signals

        signals.connect()
        search_upkeep.connect()
        facet_upkeep.connect()
