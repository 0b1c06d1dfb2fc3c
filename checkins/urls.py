from django.urls import path

from . import day_views, views

urlpatterns = [
    path("", day_views.home, name="home"),
    path("qr/<str:number>/", views.qr_entry, name="qr_entry"),
    path("registrations/new/", views.new_registration, name="new_registration"),
    path("registrations/<int:pk>/", views.registration_detail, name="registration_detail"),
    path("registrations/quick-out/", views.quick_out, name="quick_out"),
    path("help/", views.help_page, name="help"),
    path("my-data/inspections/", views.inspector_accesses, name="inspector_accesses"),
]
