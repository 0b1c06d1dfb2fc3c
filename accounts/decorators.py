from functools import wraps

from django.contrib.auth.views import redirect_to_login

from .expiry import stash_form


def worker_required_keeping_form(view):
    """login_required that keeps a posted form for after the login, instead of dropping it."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.method == "POST":
            stash_form(request)
            # With its query: a form reached from a QR code keeps its lock (?qr=) after login.
            return redirect_to_login(request.get_full_path())
        return redirect_to_login(request.get_full_path())

    return wrapper
