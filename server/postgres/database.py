"""One PostgreSQL connection of a store, and what a lost database means for it.

The stores (sessions, memory) call ``run(work)`` from worker threads: the work gets
the connection under a lock (connected and migrated on first need, and again after
a loss; a connection the server closed while idle, as a restart does, is noticed
before the work and replaced). A database that cannot be reached is
``DatabaseUnavailable``, a 503 with a sentence naming what could not be saved, and
the status says so until a call reaches it again; a refused query is a
``StorageError``.
"""

from __future__ import annotations

import logging
import select
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from server.postgres.schema import migrate
from server.sessions.store import StorageError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5
T = TypeVar("T")
# A peer that vanishes without closing (power loss, a network cut) is noticed within
# about half a minute on both sides: TCP keepalives after 10 s idle, 3 probes 5 s apart,
# and a 30 s limit on unacknowledged data. The server's side matters most: until it
# gives up, the dead replica's session holds its advisory locks (turns, index leases).
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
             "keepalives_count": 3, "tcp_user_timeout": 30000}  # fmt: skip
SERVER_KEEPALIVE = (
    "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3 "
    "-c tcp_user_timeout=30000"
)


def liveness(url: str) -> dict[str, Any]:
    """Connection keywords that make both ends notice a vanished peer (see KEEPALIVE);
    the URL's own ``options``, if any, are kept."""
    from psycopg.conninfo import conninfo_to_dict

    own = conninfo_to_dict(url).get("options")
    return {**KEEPALIVE, "options": f"{own} {SERVER_KEEPALIVE}" if own else SERVER_KEEPALIVE}


class DatabaseUnavailable(StorageError):
    status = 503
    code = "database_unavailable"


NO_DRIVER = (
    "PostgreSQL storage needs its driver, which is not installed: "
    "pip install 'traymind[postgres]' (or psycopg[binary])."
)


def describe(url: str) -> str:
    """``host:port/db`` of a URL, for the status and the log (never a password);
    ``StorageError`` without the URL (it may hold one) when it cannot be read, or when it
    reads oddly (a password with an unencoded ``/`` or ``@`` makes libpq take part of it
    for the host, the port or the database). Every store starts here, so a missing
    driver is a sentence here too."""
    try:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        raise StorageError(NO_DRIVER) from None

    unreadable = StorageError(
        "The storage URL cannot be read: give it as postgresql://user@host:port/database, "
        "with any '/', '@' or ':' in the password written as %2F, %40 or %3A."
    )
    try:
        info = conninfo_to_dict(url)
    except psycopg.Error:
        raise unreadable from None
    host = str(info.get("host") or "localhost")
    port = str(info.get("port") or "5432")
    dbname = str(info.get("dbname") or "")
    odd_port = not port.replace(",", "").isdigit()  # "5432", or "5432,5433" for two hosts
    odd_host = not host.startswith("/") and any(c in host for c in "@/")  # "/": a socket folder
    if odd_port or odd_host or any(c in dbname for c in "@/"):
        raise unreadable
    return f"{host}:{port}/{dbname}"


class Database:
    """A store's connection; ``what`` names it in sentences ("conversation", "memory")."""

    def __init__(self, url: str, what: str, *, saved: str) -> None:
        self.url = url
        self.where = describe(url)
        self.what = what
        self.saved = saved  # the sentence the status shows once it works again
        self.report: Callable[[str, str], None] | None = None  # the status hub's "storage"
        self._lock = threading.Lock()
        self._db: Any = None
        self._failing = False

    def open(self) -> None:
        with self._lock:
            self._connect()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def run(self, work: Callable[[Any], T]) -> T:
        """``work(connection)`` under the lock; a lost database becomes a 503."""
        import psycopg

        with self._lock:
            db = self._connect()
            try:
                return work(db)
            except psycopg.OperationalError as exc:
                raise self._unavailable(exc) from None
            except psycopg.Error as exc:
                log.error("%s store query failed on %s: %s", self.what, self.where, exc)
                raise StorageError(f"The {self.what} database refused a query: {exc}") from None

    def run_if_connected(self, work: Callable[[Any], T]) -> T | None:
        """``work(connection)`` only on the connection already open (None without one, or on
        any error): for goodbyes, which must not connect, wait or log a loss."""
        import psycopg

        with self._lock:
            if self._db is None or self._db.closed:
                return None
            try:
                return work(self._db)
            except psycopg.Error:
                return None

    def _connect(self) -> Any:
        import psycopg

        if self._db is not None and not self._db.closed:
            if not connection_dropped(self._db):
                return self._db
            self._db.close()  # the server went away (a restart): connect again, before work
            self._db = None
        try:
            db = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                application_name="traymind",
                **liveness(self.url),
            )
            migrate(db)
        except psycopg.Error as exc:
            raise self._unavailable(exc) from None
        self._db = db
        if self._failing:
            self._failing = False
            log.info("the %s store reaches %s again", self.what, self.where)
            self._tell("ok", self.saved)
        return db

    def _unavailable(self, exc: BaseException) -> DatabaseUnavailable:
        message = unavailable(exc, self.what, self.where)
        reason = str(exc).strip().splitlines()[0] if str(exc) else exc
        # once per outage as an error: callers retry every few seconds while it lasts
        (log.debug if self._failing else log.error)("%s (%s)", message, reason)
        if self._db is not None:
            try:
                self._db.close()
            finally:
                self._db = None
        self._failing = True
        self._tell("error", message)
        return DatabaseUnavailable(message)

    def _tell(self, state: str, message: str) -> None:
        if self.report is not None:
            self.report(state, message)


def unavailable(exc: BaseException, what: str, where: str) -> str:
    """What a failed connection means, in one sentence: refused (a login, a missing
    database), or not reached (try again later)."""
    return refusal(exc, what, where) or (
        f"The {what} database (PostgreSQL at {where}) cannot be reached; nothing was stored. "
        "Try again once it is back."
    )


def refusal(exc: BaseException, what: str, where: str) -> str | None:
    """The sentence for a server that answered but refused us (a login, a missing
    database), which waiting will not fix; None for anything else."""
    text = str(exc)
    if "password authentication failed" in text or "no password supplied" in text:
        return (
            f"The {what} database (PostgreSQL at {where}) refused the login: check the "
            "password (PGPASSWORD, the keyring's storage.password_keyring, or the URL in "
            "TRAYMIND_STORAGE_URL) and the user name."
        )
    if "does not exist" in text and "database" in text:
        return (
            f"The {what} database (PostgreSQL at {where}) does not exist on that server: "
            "create it (createdb), or fix the database name in the URL."
        )
    return None


def connection_dropped(db: Any) -> bool:
    """Whether an idle connection was closed by the server: its socket is readable (the
    server's goodbye, or end of file) while no query runs. No round trip is spent."""
    try:
        readable, _, _ = select.select([db.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
