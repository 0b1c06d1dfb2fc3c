from django.urls import path

from . import views

urlpatterns = [
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("logged-out/", views.logged_out, name="logged_out"),
    path("language/", views.set_language, name="set_language"),
    # Replaces allauth's finish step; the other SAML URLs are allauth's own.
    path(
        "accounts/saml/<slug:organization_slug>/acs/finish/",
        views.finish_acs,
        name="saml_finish_acs",
    ),
]
