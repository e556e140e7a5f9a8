"""Small response adjustments that belong to the whole site."""

from csp.middleware import CSPMiddleware

ADMIN_PATH = "/admin/"
ADMIN_STYLE_ATTRIBUTES = {"style-src-attr": ["'unsafe-inline'"]}


class ArchiveCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, allowing inline style *attributes* on Django's own admin pages only.

    The archive's pages need no inline style, but a few admin templates and widgets set ``style=``
    attributes; without this they would lose their layout under the strict policy. Inline scripts
    stay forbidden everywhere. ``get_policy_parts`` is the method django-csp 4 names as the one to
    extend (its older ``build_policy`` defers to it).
    """

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only=report_only)
        if request.path.startswith(ADMIN_PATH) and not report_only:
            parts.update = {**ADMIN_STYLE_ATTRIBUTES, **(parts.update or {})}
        return parts
