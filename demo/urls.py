from django.urls import path

from . import views

app_name = "demo"
urlpatterns = [
    path("metadata/", views.metadata, name="metadata"),
    path("sso/", views.sso, name="sso"),
    path("slo/", views.slo, name="slo"),
]
