"""Darkroom's URL map."""

from typing import Any

from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from originals import pages
from transforms import builder

from . import health


class Favicon(RedirectView):
    """/favicon.ico, which browsers ask of every page without a <link rel="icon"> (the admin's, the API docs'):
    the site's SVG icon, looked up per request so production's hashed static name is the one sent."""

    permanent = True
    http_method_names = ["get", "head"]

    def get_redirect_url(self, *args: Any, **kwargs: Any) -> str:
        return static("favicon.svg")


urlpatterns = [
    path("favicon.ico", Favicon.as_view(), name="favicon"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("api/v1/", include("originals.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api-auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
    path("", include("transforms.urls")),
    path("", pages.HomePage.as_view(), name="home"),
    path("upload/", pages.UploadPage.as_view(), name="upload"),
    path("gallery/", pages.GalleryFragment.as_view(), name="gallery"),
    path("gallery/<str:original_id>/", pages.GalleryItemFragment.as_view(), name="gallery-item"),
    path("originals/<str:original_id>/", builder.OriginalPage.as_view(), name="original-page"),
    path("originals/<str:original_id>/url/", builder.VariantLink.as_view(), name="original-variant-url"),
    path("originals/<str:original_id>/focal/", pages.OriginalFocusPage.as_view(), name="original-focal"),
]

handler400 = "server.errors.json_400"
handler403 = "server.errors.json_403"
handler404 = "server.errors.json_404"
handler500 = "server.errors.json_500"
