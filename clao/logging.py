"""Log records on one line each, whatever the values they carry."""

import logging
import re

# C0 and C1 control characters and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    """'\\n' for a newline, '\\x00' for a NUL...: as repr() writes them."""
    return _CONTROL.sub(lambda match: repr(match.group())[1:-1], text)


class OneLineFormatter(logging.Formatter):
    """A value logged from a request (an Issuer, a path) can never start a line of its own,
    so nobody can forge "SAML login accepted ..." into the log. Tracebacks, which Python
    adds after the message, keep their lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return escape_controls(super().formatMessage(record))
