"""URLs of variants: /image/<id>/?w=…, and what one will be: /image/<id>/info/?w=…"""

from django.urls import path

from . import views

urlpatterns = [
    path("image/<str:original_id>/", views.ImageView.as_view(), name="image"),
    path("image/<str:original_id>/info/", views.ImageInfoView.as_view(), name="image-info"),
]
