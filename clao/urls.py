from django.conf import settings
from django.urls import include, path, re_path

from accounts import views as account_views

# Workers have no password: allauth's local account pages lead to the identity provider.
to_login = account_views.to_login

urlpatterns = [
    path("", include("accounts.urls")),
    path("accounts/login/", to_login),
    path("accounts/signup/", to_login),
    # Every /accounts/password/... page, /accounts/password/ itself included.
    re_path(r"^accounts/password/", to_login),
    path("accounts/logout/", account_views.logout),
    path("accounts/", include("allauth.urls")),
    path("geo/", include("geo.urls")),
    path("employer/", include("employer_space.urls")),
    path("onss/", include("inspection.urls")),
    path("", include("employers.urls")),
    path("", include("checkins.urls")),
    path("", include("api.urls")),
]

if settings.CLAO_DEV_IDP:
    urlpatterns.append(path("dev-idp/", include("demo.urls")))

handler400 = "clao.errors.bad_request"
handler403 = "clao.errors.forbidden"
handler404 = "clao.errors.not_found"
handler500 = "clao.errors.server_error"
