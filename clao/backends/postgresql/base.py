"""Django's PostgreSQL backend, with a health check that costs no round trip when idle.

CONN_HEALTH_CHECKS makes Django send "SELECT 1" before the first query of every request on a
kept connection: one round trip more a request, for an answer that is nearly always yes. A
connection the server or a proxy closed (a restart, a failover behind HAProxy, a terminated
backend) is one whose socket has something to read while idle: the termination notice or the
end of the stream. Here the socket is looked at first (no round trip); only when the server
has spoken does "SELECT 1" decide, as Django's would. A connection that died silently (a cut
cable) fails either way at its first query, and Django drops it at the end of that request.
"""

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self) -> None:
        if (
            self.pool
            or self.connection is None
            or not self.health_check_enabled
            or self.health_check_done
        ):
            return super().close_if_health_check_failed()
        if not self._idle_and_open() and not self.is_usable():
            self.close()
        self.health_check_done = True

    def _idle_and_open(self) -> bool:
        """True when nothing says the connection is gone: open, and nothing sent by the server
        since the last answer was read."""
        connection = self.connection
        if connection.closed or connection.broken:
            return False
        try:
            readable, _, _ = select.select([connection.pgconn.socket], [], [], 0)
        except (OSError, ValueError, base.Database.Error):
            return False
        return not readable
