"""URLs of variants: /image/<id>/?w=…, what one will be: /image/<id>/info/?w=…, and thumbor's: /thumbor/…/<id>"""

from django.urls import path, re_path

from . import thumbor, views

urlpatterns = [
    path("image/<str:original_id>/", views.ImageView.as_view(), name="image"),
    path("image/<str:original_id>/info/", views.ImageInfoView.as_view(), name="image-info"),
    re_path(r"^thumbor/(?P<path>.+)$", thumbor.ThumborView.as_view(), name="thumbor"),
]
