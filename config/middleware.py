"""Small response adjustments that belong to the whole site."""

ADMIN_PATH = "/admin/"


class AdminStyleAttributesMiddleware:
    """Allow inline style *attributes* on Django's own admin pages only.

    The archive's pages need no inline style, but a few admin templates and widgets set ``style=``
    attributes; without this they would lose their layout under the strict policy. Inline scripts
    stay forbidden everywhere. django-csp merges ``response._csp_update`` into the policy (it is what
    its ``csp_update`` decorator sets); this middleware sits after CSPMiddleware so it runs first on
    the way out.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(ADMIN_PATH):
            response._csp_update = {"style-src-attr": ["'unsafe-inline'"]}
        return response
