from django.urls import path

from . import views

urlpatterns = [
    path("api/v1/docs", views.docs, name="api_docs"),
    path("api/v1/", views.api.urls),
]
