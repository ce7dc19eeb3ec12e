"""URLs of variants: /image/<id>/?w=…"""

from django.urls import path

from . import views

urlpatterns = [
    path("image/<str:original_id>/", views.ImageView.as_view(), name="image"),
]
