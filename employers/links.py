"""The personalised link of an enterprise: replacing its token, and sending it to workers by
e-mail and SMS.

A sending is a send job: the form records it with one waiting delivery per recipient (one
sending per form key: a page submitted twice records and sends nothing twice); then whoever
comes along sends the next few waiting deliveries (`send_next`): the job's page while it is
open (htmx, or its button without JavaScript), and `manage.py send_pending_links` (a CronJob)
for the jobs nobody watches. No queue, no extra process: the rows are the queue.
"""

import logging
import re
import smtplib
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Person

from .models import Employer, LinkDelivery, LinkSending, RetiredLinkToken, new_link_token
from .sms import SmsError, get_backend

logger = logging.getLogger("clao.links")
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


def record_sending(
    *,
    employer: Employer,
    sent_by: Person,
    recipients: list[Recipient],
    key: str,
    language: str = "",
) -> tuple[LinkSending, bool]:
    """Records a sending (a send job) with one waiting delivery per recipient; sends nothing.

    Returns (sending, created). The same (person, key) again, even at the same moment from a
    page submitted twice, returns the first sending and records nothing."""
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
    try:
        with transaction.atomic():
            sending = LinkSending.objects.create(
                employer=employer,
                sent_by=sent_by,
                idempotency_key=key,
                link=link_url(employer),
                language=language or settings.LANGUAGE_CODE,
            )
            LinkDelivery.objects.bulk_create(
                LinkDelivery(sending=sending, channel=r.channel, recipient=r.address)
                for r in recipients
            )
    except IntegrityError:
        # The same page submitted twice at once: the first submission's sending.
        return LinkSending.objects.get(sent_by=sent_by, idempotency_key=key), False
    return sending, True


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    failed: int

    @property
    def waiting(self) -> int:
        return self.total - self.sent - self.failed


PROGRESS_COUNTS = {
    "total": Count("deliveries"),
    "sent": Count("deliveries", filter=Q(deliveries__status=LinkDelivery.Status.SENT)),
    "failed": Count("deliveries", filter=Q(deliveries__status=LinkDelivery.Status.FAILED)),
}


def progress_of(sending: LinkSending) -> Progress:
    """How many deliveries of the sending are sent, failed and waiting (one query)."""
    return Progress(**LinkSending.objects.filter(pk=sending.pk).aggregate(**PROGRESS_COUNTS))


def with_progress(sendings, limit: int) -> list[tuple[LinkSending, Progress]]:
    """The first `limit` sendings of a queryset, each with its progress, in one query."""
    return [
        (item, Progress(item.total, item.sent, item.failed))
        for item in sendings.annotate(**PROGRESS_COUNTS)[:limit]
    ]


@dataclass(frozen=True)
class Tally:
    sent: int = 0
    failed: int = 0


def send_next(sending: LinkSending, *, limit: int | None = None, seconds: float = 5.0) -> Tally:
    """Sends waiting deliveries of the sending, at most `limit` of them (None: no limit), none
    but the first started after `seconds` (so each call moves the job on); returns how many it
    sent and how many failed.

    Any number of these may run at once (two tabs, several web pods, the command): each
    delivery is claimed with SELECT ... FOR UPDATE SKIP LOCKED and stays locked while its
    backend is called, so that no two of them ever send to the same recipient. A delivery is
    marked sent only once its backend accepted it, in the same transaction; a process that
    dies in between leaves it waiting (the lock goes with the connection), to be sent again."""
    deadline = time.monotonic() + seconds
    sent = failed = 0
    backends: dict[str, object] = {}
    # The workers' language is unknown: the message is in the language of the sender's page,
    # whoever sends it (a later progress request, another pod, the command).
    with translation.override(sending.language or settings.LANGUAGE_CODE):
        subject, body = _message(sending.employer, sending.link)
        while limit is None or sent + failed < limit:
            if sent + failed and time.monotonic() >= deadline:
                break
            with transaction.atomic():
                delivery = (
                    LinkDelivery.objects.select_for_update(skip_locked=True)
                    .filter(sending=sending, status=LinkDelivery.Status.PENDING)
                    .order_by("pk")
                    .first()
                )
                if delivery is None:
                    break
                if _deliver(delivery, subject, body, backends):
                    sent += 1
                else:
                    failed += 1
    return Tally(sent, failed)


def _deliver(delivery: LinkDelivery, subject: str, body: str, backends: dict) -> bool:
    """Calls the delivery's backend and records what it answered (inside the claim's lock);
    True if it was accepted."""
    delivery.attempts += 1
    try:
        if delivery.channel == LinkDelivery.Channel.EMAIL:
            send_mail(subject, body, None, [delivery.recipient])
        else:
            if "sms" not in backends:
                backends["sms"] = get_backend()
            backends["sms"].send(delivery.recipient, body)
    except SmsError as exc:
        delivery.status = LinkDelivery.Status.FAILED
        delivery.error = str(exc)[:300]
    except smtplib.SMTPRecipientsRefused:
        delivery.status = LinkDelivery.Status.FAILED
        delivery.error = _("The mail server refused this address.")
    except OSError:
        # Other SMTP errors are OSErrors too: an unreachable or refusing server. The reason
        # shown is in the sender's language; the server's own words go to the log.
        logger.warning("e-mail of delivery %s failed", delivery.pk, exc_info=True)
        delivery.status = LinkDelivery.Status.FAILED
        delivery.error = _("The mail server could not be reached or refused the message.")
    except Exception:
        # A bug must not leave the recipient waiting forever, retried by every request.
        logger.exception("sending the link to delivery %s failed", delivery.pk)
        delivery.status = LinkDelivery.Status.FAILED
        delivery.error = _("An unexpected error occurred; it has been recorded for the team.")
    else:
        delivery.status = LinkDelivery.Status.SENT
        delivery.error = ""
        delivery.sent_at = timezone.now()
    delivery.save(update_fields=["status", "error", "sent_at", "attempts"])
    return delivery.status == LinkDelivery.Status.SENT


def retry_failed(sending: LinkSending) -> int:
    """Puts the failed deliveries of the sending back to waiting; returns how many."""
    return sending.deliveries.filter(status=LinkDelivery.Status.FAILED).update(
        status=LinkDelivery.Status.PENDING
    )


def send_pending(*, seconds: float) -> Tally:
    """Sends the waiting deliveries of every sending, oldest first, for at most `seconds`
    (`manage.py send_pending_links`: the sendings nobody watches). Returns what it did."""
    deadline = time.monotonic() + seconds
    sent = failed = 0
    seen: set[int] = set()
    while time.monotonic() < deadline:
        sending = (
            LinkSending.objects.filter(deliveries__status=LinkDelivery.Status.PENDING)
            .exclude(pk__in=seen)
            .select_related("employer")
            .order_by("pk")
            .distinct()
            .first()
        )
        if sending is None:
            break
        # Each sending once: what is still waiting afterwards is locked by another sender (a
        # page, a pod), or is for the next run.
        seen.add(sending.pk)
        tally = send_next(sending, seconds=max(0.0, deadline - time.monotonic()))
        sent, failed = sent + tally.sent, failed + tally.failed
    return Tally(sent, failed)
