from django.urls import path

from . import views

# Included as path("employer/", include("employer_space.urls")).
app_name = "employer_space"

E = "<int:enterprise_id>/"
DDT = E + "declarations/<str:number>/"

urlpatterns = [
    path("", views.home, name="home"),
    path(E, views.registrations, name="registrations"),
    path(E + "registrations.csv", views.registrations_csv, name="registrations_csv"),
    path(E + "register/", views.register_for_worker, name="register"),
    path(E + "declarations/", views.declarations, name="declarations"),
    # Before the declarations' own URLs: "import" is not a DDT number (it has an I and an O).
    path(E + "declarations/import/", views.import_declarations_view, name="import_declarations"),
    path(DDT, views.poster, name="poster"),
    path(DDT + "qr.png", views.poster_qr, name="poster_qr"),
    path(DDT + "poster.pdf", views.poster_download, name="poster_pdf"),
    path(E + "contracts/", views.contracts, name="contracts"),
    path(E + "link/", views.link, name="link"),
    path(E + "link/replace/", views.replace_link, name="replace_link"),
    path(E + "link/sendings/<int:sending_id>/", views.sending, name="sending"),
    path(E + "link/sendings/<int:sending_id>/send/", views.sending_progress, name="sending_send"),
    path(E + "link/sendings/<int:sending_id>/retry/", views.sending_retry, name="sending_retry"),
    path(E + "access/", views.access, name="access"),
    path(E + "access/<int:mandate_id>/revoke/", views.revoke_access, name="revoke"),
    path(E + "devices/", views.devices, name="devices"),
    path(E + "devices/<int:device_id>/revoke/", views.revoke_device, name="revoke_device"),
]
