"""Logged-in sessions for the benchmarks' persons, as ClaO's login leaves them (no IdP)."""

from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string


def session_data(person, now: datetime | None = None) -> dict:
    return {
        "_auth_user_id": str(person.pk),
        "_auth_user_backend": settings.AUTHENTICATION_BACKENDS[0],
        "_auth_user_hash": person.get_session_auth_hash(),
        # accounts.expiry: logged in now, so the 6-hour rule lets every request through.
        "clao_authenticated_at": (now or timezone.now()).timestamp(),
    }


def login_key(person) -> str:
    """A new session of `person` in the settings' session store; its key."""
    store = import_string(settings.SESSION_ENGINE + ".SessionStore")()
    store.update(session_data(person))
    store.create()
    return store.session_key
