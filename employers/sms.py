"""Sending SMS through a small pluggable backend, chosen by settings.CLAO_SMS_BACKEND.

- "console": writes the message to the log (the demo and development);
- "locmem": keeps the messages in `outbox` (the tests);
- "twilio": Twilio's REST API (production), with CLAO_SMS_TWILIO_ACCOUNT_SID,
  CLAO_SMS_TWILIO_AUTH_TOKEN and CLAO_SMS_FROM. Never called by the tests.

A backend is `send(to, text)`; it raises SmsError with a short reason when the message is not
accepted, translated in the active language (the sender's: employers/links.py).
"""

import base64
import json
import logging
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.utils.translation import gettext as _

logger = logging.getLogger("clao.sms")
outbox: list[tuple[str, str]] = []


class SmsError(Exception):
    pass


class ConsoleBackend:
    def send(self, to: str, text: str) -> None:
        # On the console of `make run` (the log goes to the console).
        logger.info("SMS to %s: %s", to, text)


class LocmemBackend:
    def send(self, to: str, text: str) -> None:
        outbox.append((to, text))


class TwilioBackend:
    API = "https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json"

    def __init__(self) -> None:
        self.sid = settings.CLAO_SMS_TWILIO_ACCOUNT_SID
        self.token = settings.CLAO_SMS_TWILIO_AUTH_TOKEN
        self.sender = settings.CLAO_SMS_FROM
        if not (self.sid and self.token and self.sender):
            raise SmsError(_("The SMS service is not configured."))

    def send(self, to: str, text: str) -> None:
        body = urllib.parse.urlencode({"To": to, "From": self.sender, "Body": text}).encode()
        # A fixed https URL of the provider, never one from input.
        url = self.API.format(sid=urllib.parse.quote(self.sid, safe=""))
        request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310
        credentials = base64.b64encode(f"{self.sid}:{self.token}".encode()).decode()
        request.add_header("Authorization", f"Basic {credentials}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                json.load(response)
        except urllib.error.HTTPError as exc:
            logger.warning("SMS to %s refused by Twilio: HTTP %s", to, exc.code)
            raise SmsError(
                _("The SMS service refused the message (error %(code)s).") % {"code": exc.code}
            ) from exc
        except (urllib.error.URLError, TimeoutError, ValueError) as exc:
            logger.warning("SMS to %s: Twilio unreachable: %s", to, exc)
            raise SmsError(_("The SMS service could not be reached.")) from exc


BACKENDS = {"console": ConsoleBackend, "locmem": LocmemBackend, "twilio": TwilioBackend}


def get_backend():
    return BACKENDS[settings.CLAO_SMS_BACKEND]()
