from django.urls import path

from . import views

urlpatterns = [
    path("l/<str:token>/", views.personal_link, name="personal_link"),
    path("employers/name/", views.employer_name, name="employer_name"),
]
