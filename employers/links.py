"""The personalised link of an enterprise: replacing its token, and sending it to workers by
e-mail and SMS (one sending per form key: a page submitted twice sends nothing twice).
"""

import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Person

from .models import Employer, LinkDelivery, LinkSending, RetiredLinkToken, new_link_token
from .sms import SmsError, get_backend

MAX_RECIPIENTS = 200
# E.164 after removing spaces, dots, dashes, slashes and parentheses; a Belgian 04xx number is
# taken as +324xx.
PHONE = re.compile(r"\+[1-9][0-9]{7,14}")


class SendingRefused(Exception):
    def __init__(self, code: str, message) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


def link_url(employer: Employer) -> str:
    return settings.SITE_ROOT + reverse("personal_link", args=[employer.link_token])


def replace_link_token(employer: Employer) -> str:
    """A new token; the old link keeps answering that it was replaced."""
    with transaction.atomic():
        RetiredLinkToken.objects.create(token=employer.link_token, employer=employer)
        employer.link_token = new_link_token()
        employer.save(update_fields=["link_token"])
    return employer.link_token


@dataclass(frozen=True)
class Recipient:
    channel: str
    address: str


def parse_recipients(text: str) -> tuple[list[Recipient], list[tuple[int, str, str]]]:
    """The recipients of a text (one per line), and the refused lines (number, line, why)."""
    recipients, refused, seen = [], [], set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if "@" in line:
            try:
                validate_email(line)
            except ValidationError:
                refused.append((number, line, gettext_lazy("This e-mail address is not valid.")))
                continue
            recipient = Recipient(LinkDelivery.Channel.EMAIL, line.lower())
        else:
            phone = re.sub(r"[\s./()-]", "", line)
            if phone.startswith("00"):
                phone = "+" + phone[2:]
            elif phone.startswith("0"):
                phone = "+32" + phone[1:]
            if not PHONE.fullmatch(phone):
                refused.append(
                    (
                        number,
                        line,
                        gettext_lazy(
                            "This is neither an e-mail address nor a mobile number (+32…)."
                        ),
                    )
                )
                continue
            recipient = Recipient(LinkDelivery.Channel.SMS, phone)
        if recipient not in seen:
            seen.add(recipient)
            recipients.append(recipient)
    return recipients, refused


def _message(employer: Employer, url: str) -> tuple[str, str]:
    subject = _("%(employer)s: your link to ClaO") % {"employer": employer.name}
    body = _(
        "%(employer)s asks you to register your work (IN and OUT) in ClaO. "
        "Open this link on your smartphone: %(url)s"
    ) % {"employer": employer.name, "url": url}
    return subject, body


def send_link(
    *, employer: Employer, sent_by: Person, recipients: list[Recipient], key: str
) -> tuple[LinkSending, bool]:
    """Sends the enterprise's link to each recipient once; returns (sending, created).

    The same (person, key) again returns the first sending without sending anything."""
    if not recipients:
        raise SendingRefused("no_recipient", gettext_lazy("Give at least one recipient."))
    if len(recipients) > MAX_RECIPIENTS:
        raise SendingRefused(
            "too_many",
            gettext_lazy("At most %(count)s recipients per sending.") % {"count": MAX_RECIPIENTS},
        )
    existing = LinkSending.objects.filter(sent_by=sent_by, idempotency_key=key).first()
    if existing is not None:
        return existing, False
    url = link_url(employer)
    try:
        with transaction.atomic():
            sending = LinkSending.objects.create(
                employer=employer, sent_by=sent_by, idempotency_key=key, link=url
            )
            LinkDelivery.objects.bulk_create(
                LinkDelivery(sending=sending, channel=r.channel, recipient=r.address)
                for r in recipients
            )
    except IntegrityError:
        # The same page submitted twice at once: the other request sends.
        return LinkSending.objects.get(sent_by=sent_by, idempotency_key=key), False
    deliver(sending)
    return sending, True


def deliver(sending: LinkSending) -> None:
    """Sends the deliveries still waiting; each is taken under a row lock, so never twice."""
    # The workers' language is unknown: the message goes in the language of the sender's page.
    subject, body = _message(sending.employer, sending.link)
    sms = None
    for pk in list(
        sending.deliveries.filter(status=LinkDelivery.Status.PENDING).values_list("pk", flat=True)
    ):
        with transaction.atomic():
            delivery = (
                LinkDelivery.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=LinkDelivery.Status.PENDING)
                .first()
            )
            if delivery is None:
                continue
            try:
                if delivery.channel == LinkDelivery.Channel.EMAIL:
                    send_mail(subject, body, None, [delivery.recipient])
                else:
                    sms = sms or get_backend()
                    sms.send(delivery.recipient, body)
            except (SmsError, OSError) as exc:
                delivery.status = LinkDelivery.Status.FAILED
                delivery.error = str(exc)[:300]
            else:
                delivery.status = LinkDelivery.Status.SENT
                delivery.sent_at = timezone.now()
            delivery.save(update_fields=["status", "error", "sent_at"])
