"""Django's PostgreSQL backend, with one change: the pool's checkout check.

Django's pool (CONN_HEALTH_CHECKS) runs psycopg_pool's `check_connection` on every checkout:
an empty query, one round trip before each request's first statement. Profiled on the vote
path (issue 10) it was a fifth of a vote's time in the web process. `connection_alive` makes
the same promise without the round trip for a connection that is plainly alive: an idle
connection's socket has nothing to read, while a server that restarted, or that terminated
the backend, has sent its goodbye (or closed the socket), so the socket reads ready and the
full check runs, and the pool replaces the connection, as before.
"""

from __future__ import annotations

import select
from typing import Any

from django.db.backends.base.base import NO_DB_ALIAS
from django.db.backends.postgresql import base


def connection_alive(conn: Any) -> None:
    """psycopg_pool's `check` callback: return quietly if the connection works, else raise."""
    from psycopg import OperationalError
    from psycopg.pq import TransactionStatus
    from psycopg_pool import ConnectionPool

    if conn.closed:
        raise OperationalError("the connection is closed")
    if conn.info.transaction_status == TransactionStatus.IDLE:
        poller = select.poll()  # not select(): a busy server's descriptors pass 1024
        poller.register(conn.fileno(), select.POLLIN)
        if not poller.poll(0):
            return  # nothing arrived while idle: the server still holds it open
    ConnectionPool.check_connection(conn)  # the round trip reads (and raises on) the news


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self) -> Any:
        """Django's pool, made with `connection_alive` as its checkout check."""
        options = self.settings_dict["OPTIONS"].get("pool")
        if (
            options
            and self.alias != NO_DB_ALIAS
            and self.alias not in self._connection_pools  # type: ignore[attr-defined]  # Django's
            and self.settings_dict["CONN_HEALTH_CHECKS"]
        ):
            from psycopg_pool import ConnectionPool

            connect_kwargs = self.get_connection_params()
            connect_kwargs["autocommit"] = True  # as Django's: it sets autocommit later
            pool = ConnectionPool(
                kwargs=connect_kwargs,
                open=False,
                configure=self._configure_connection,  # type: ignore[attr-defined]  # Django's
                check=connection_alive,
                **({} if options is True else options),
            )
            self._connection_pools.setdefault(self.alias, pool)  # type: ignore[attr-defined]
        return super().pool
