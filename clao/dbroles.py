"""The database roles of a PostgreSQL deployment (docs/security.md, "Append-only ...").

- The owner (DATABASE_OWNER_URL) owns every table: it runs `migrate` and loads history.
- The application (DATABASE_URL) owns nothing. On registrations it may only SELECT and INSERT,
  and not even name in an INSERT the columns the database sets (id, recorded_at, the chain);
  on the other tables of the product what a web application needs. It can neither UPDATE,
  DELETE nor TRUNCATE a registration, nor ALTER a table, disable a trigger or change
  session_replication_role (superuser only).

`migrate` (run as the owner) grants the application's privileges after every run, per table
that Django knows, so a new table is covered by the migration that adds it. Default privileges
are not used on purpose: a new month's partition of registrations must give the application
nothing of its own (it reaches the rows through the parent table only).

Infrastructure: it knows table names, imports nothing of the domain or the entry points.
"""

from urllib.parse import unquote, urlparse

from django.conf import settings
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.signals import post_migrate

# Read and appended, never changed: the legal record.
APPEND_ONLY_TABLES = frozenset({"checkins_registration"})
# Columns of those that only the database sets at insert (the identity, the time, the chain):
# the application may not even name them in an INSERT.
DATABASE_SET_COLUMNS = frozenset({"id", "recorded_at", "chain_previous", "chain_hash"})
# Written only by the registrations' own trigger, as the owner (the chain heads, the
# idempotency keys of a partitioned table, each worker's first registration).
TRIGGER_WRITTEN_TABLES = frozenset(
    {
        "checkins_registrationchainhead",
        "checkins_registrationkey",
        "checkins_chaincut",
        "checkins_firstregistration",
    }
)
# The NOLOGIN role whose members may drop expired months of registrations, through one
# function only (checkins migration 0011); DATABASE_RETENTION_URL's user is made a member.
RETENTION_GROUP = "clao_retention"
RETENTION_FUNCTION = "clao_drop_expired_partitions(date)"
# Readable by the application, changed only by migrations.
READ_ONLY_TABLES = frozenset({"django_migrations"})


class RoleSetupError(Exception):
    pass


def _role_exists(cursor, role: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    return cursor.fetchone() is not None


def ensure_login_role(connection: BaseDatabaseWrapper, role: str, password: str) -> bool:
    """Creates `role` (LOGIN, nothing else) when missing; True when it was created."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if _role_exists(cursor, role):
            return False
        try:
            cursor.execute(
                f"CREATE ROLE {quote(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                f"NOREPLICATION NOBYPASSRLS" + (" PASSWORD %s" if password else ""),
                [password] if password else None,
            )
        except Exception as error:
            raise RoleSetupError(
                f"cannot create the database role {role!r} ({error}); create it as a "
                f"superuser: CREATE ROLE {role} LOGIN PASSWORD '...'"
            ) from error
    return True


def grant_app_privileges(connection: BaseDatabaseWrapper, role: str) -> None:
    """Gives `role` exactly the application's privileges on this database (idempotent)."""
    quote = connection.ops.quote_name
    app = quote(role)
    tables = set(connection.introspection.django_table_names(only_existing=True))
    tables |= READ_ONLY_TABLES
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), current_schema()")
        database, schema = cursor.fetchone()
        cursor.execute(f"GRANT CONNECT ON DATABASE {quote(database)} TO {app}")
        cursor.execute(f"GRANT USAGE ON SCHEMA {quote(schema)} TO {app}")
        cursor.execute(f"REVOKE CREATE ON SCHEMA {quote(schema)} FROM {app}")
        for table in sorted(tables):
            name = quote(table)
            cursor.execute(f"REVOKE ALL ON {name} FROM {app}")
            if table in APPEND_ONLY_TABLES:
                columns = [
                    column.name
                    for column in connection.introspection.get_table_description(cursor, table)
                    if column.name not in DATABASE_SET_COLUMNS
                ]
                cursor.execute(
                    f"GRANT INSERT ({', '.join(map(quote, columns))}) ON {name} TO {app}"
                )
                grant = "SELECT"
            elif table in TRIGGER_WRITTEN_TABLES or table in READ_ONLY_TABLES:
                grant = "SELECT"
            else:
                grant = "SELECT, INSERT, UPDATE, DELETE"
            cursor.execute(f"GRANT {grant} ON {name} TO {app}")
        # nextval() for the identity columns of the tables it inserts into.
        cursor.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {quote(schema)} TO {app}")


def grant_retention_privileges(connection: BaseDatabaseWrapper, role: str) -> None:
    """Makes `role` a member of clao_retention, which may EXECUTE the retention's function and
    nothing else of the product: no privilege on any table (idempotent)."""
    quote = connection.ops.quote_name
    group = quote(RETENTION_GROUP)
    with connection.cursor() as cursor:
        if not _role_exists(cursor, RETENTION_GROUP):
            cursor.execute(f"CREATE ROLE {group} NOLOGIN")
        cursor.execute("SELECT current_database(), current_schema()")
        database, schema = cursor.fetchone()
        cursor.execute(f"GRANT CONNECT ON DATABASE {quote(database)} TO {group}")
        cursor.execute(f"GRANT USAGE ON SCHEMA {quote(schema)} TO {group}")
        cursor.execute(f"REVOKE ALL ON FUNCTION {RETENTION_FUNCTION} FROM PUBLIC")
        cursor.execute(f"GRANT EXECUTE ON FUNCTION {RETENTION_FUNCTION} TO {group}")
        if role != RETENTION_GROUP:
            cursor.execute(f"GRANT {group} TO {quote(role)}")


def setup_roles(using: str = "default", **kwargs) -> None:
    """After `migrate` on PostgreSQL: the application's (and retention's) privileges."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    if settings.CLAO_DB_APP_ROLE:
        password = unquote(urlparse(settings.DATABASE_URL).password or "")
        ensure_login_role(connection, settings.CLAO_DB_APP_ROLE, password)
        grant_app_privileges(connection, settings.CLAO_DB_APP_ROLE)
    if settings.CLAO_DB_RETENTION_ROLE:
        password = unquote(urlparse(settings.DATABASE_RETENTION_URL).password or "")
        ensure_login_role(connection, settings.CLAO_DB_RETENTION_ROLE, password)
        grant_retention_privileges(connection, settings.CLAO_DB_RETENTION_ROLE)


def connect_post_migrate(sender) -> None:
    post_migrate.connect(setup_roles, sender=sender, dispatch_uid="clao.dbroles.setup_roles")
