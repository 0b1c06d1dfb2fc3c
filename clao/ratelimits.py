"""Rate limits (django-ratelimit on Django's cache): one decorator, limits from the settings."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.decorators import ratelimit


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind the TLS proxy (CLAO_BEHIND_PROXY) the last
    address of X-Forwarded-For, the one that proxy appended (earlier ones are the client's
    word). Without this every client would share the proxy's address, and its limit."""
    address = request.META.get("REMOTE_ADDR", "")
    if settings.CLAO_BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        address = forwarded or address
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return "0.0.0.0"  # noqa: S104  (not a bind address: the key of unknown clients)


def _rate(group: str, request: HttpRequest) -> str:
    return settings.CLAO_RATE_LIMITS[group]


def limited(group: str, *, key: str = "user_or_ip", methods=ratelimit.ALL):
    """Counts the requests of one person (or, logged out, one address) to a group of views;
    over the limit, the RatelimitMiddleware answers with clao.errors.rate_limited (429)."""
    return ratelimit(group=group, key=key, rate=_rate, method=methods, block=True)
