from django.urls import path

from . import views

# Included as path("geo/", include("geo.urls")): the names are geo:municipalities, geo:streets.
app_name = "geo"

urlpatterns = [
    path("municipalities/", views.municipality_suggestions, name="municipalities"),
    path("streets/", views.street_suggestions, name="streets"),
]
