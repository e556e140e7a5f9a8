from django.apps import AppConfig


class BundlesConfig(AppConfig):
    name = "bundles"
    verbose_name = "Case bundles"

    def ready(self) -> None:
        from bundles.tasks import bundle_jobs_sweep, imports_running_live
        from imaging.jobs import live_writers, worker_sweep

        # Every worker's sweep settles the bundle jobs of dead workers too.
        worker_sweep.connect(bundle_jobs_sweep, dispatch_uid="bundles-jobs-sweep")
        # An import's stored files are named by no row until it commits: the uploads' sweep waits for it.
        if imports_running_live not in live_writers:
            live_writers.append(imports_running_live)
