from functools import wraps

from django.http import Http404

from .roles import active_role


def inspector_required(view):
    """The inspector space exists only for inspectors: 404 for everyone else, anonymous too.

    Sets request.inspector_role (inspection.models.Inspector) for the view.
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        role = active_role(request.user)
        if role is None:
            raise Http404("not an inspector")
        request.inspector_role = role
        return view(request, *args, **kwargs)

    return wrapper
