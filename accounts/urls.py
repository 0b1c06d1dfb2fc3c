from django.urls import path

from . import views

urlpatterns = [
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("logged-out/", views.logged_out, name="logged_out"),
    path("language/", views.set_language, name="set_language"),
    # Replace allauth's ACS, its finish step and its SLS; the other SAML URLs are allauth's.
    path("accounts/saml/<slug:organization_slug>/login/", views.saml_login, name="saml_login"),
    path("accounts/saml/<slug:organization_slug>/acs/", views.acs, name="saml_acs"),
    path("accounts/saml/<slug:organization_slug>/sls/", views.sls, name="saml_sls"),
    path(
        "accounts/saml/<slug:organization_slug>/acs/finish/",
        views.finish_acs,
        name="saml_finish_acs",
    ),
]
