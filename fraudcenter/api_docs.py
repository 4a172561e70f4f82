"""The API documentation pages under the site's Content-Security-Policy, and offline.

Swagger UI gets its init script as a separate request (drf-spectacular's split view), so
scripts stay 'self' only. Both UIs build their styles at run time (Redoc through
styled-components, which also starts a blob: worker), so these two pages alone allow inline
styles; nothing else is loosened. Redoc's own template pulls Google Fonts, ours does not."""

from __future__ import annotations

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.utils.decorators import method_decorator
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

_DOCS_CSP = csp_update({"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})


@method_decorator(_DOCS_CSP, name="dispatch")
class SwaggerView(SpectacularSwaggerSplitView):
    pass


@method_decorator(_DOCS_CSP, name="dispatch")
class RedocView(SpectacularRedocView):
    template_name = "api/redoc.html"
