"""URLs of the originals API under /api/v1/."""

from django.urls import path
from rest_framework_simplejwt.views import TokenObtainPairView

from . import api, tokens

urlpatterns = [
    path("", api.ApiRoot.as_view(), name="api-root"),
    path("originals/", api.OriginalListCreateApi.as_view(), name="original-list"),
    path("originals/<str:original_id>/", api.OriginalDetailApi.as_view(), name="original-detail"),
    path("originals/<str:original_id>/file/", api.OriginalFileApi.as_view(), name="original-file"),
    path("token/", TokenObtainPairView.as_view(), name="token-obtain"),
    path("token/refresh/", tokens.TokenRefreshApi.as_view(), name="token-refresh"),
]
