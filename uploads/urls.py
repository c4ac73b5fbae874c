from django.urls import path

from uploads import views

app_name = "uploads"

urlpatterns = [
    path("", views.gallery, name="gallery"),
    path("upload/", views.upload, name="upload"),
    path("status.json", views.gallery_status, name="gallery-status"),
    path("batch/<uuid:batch>/", views.batch, name="batch"),
    path("batch/<uuid:batch>.json", views.batch_status, name="batch-status"),
    path("<uuid:photo_id>/", views.detail, name="detail"),
    path("<uuid:photo_id>.json", views.status, name="status"),
    path("<uuid:photo_id>/retry/", views.retry, name="retry"),
    path("<uuid:photo_id>/delete/", views.delete, name="delete"),
    path("<uuid:photo_id>/<slug:name>/", views.variant, name="variant"),
]
