from django.urls import path

from . import views

app_name = "inspection"
urlpatterns = [
    path("", views.search_page, name="search"),
    path("export.csv", views.export_csv, name="export"),
    path("workers/<int:pk>/", views.worker_registrations, name="worker"),
    path("registrations/<int:pk>/correct/", views.correct_registration, name="correct"),
    path("proofs/<int:pk>/", views.proof, name="proof"),
    path("log/", views.my_accesses, name="log"),
]
