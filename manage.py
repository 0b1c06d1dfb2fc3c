#!/usr/bin/env python
import os
import sys

# These change the schema, load history that predates its insert, or manage partitions: they
# connect with DATABASE_OWNER_URL when it is set (the application's role may only read and
# append registrations). The retention command has a role of its own. See docs/security.md.
OWNER_COMMANDS = {"migrate", "loaddemo", "ensurepartitions"}
RETENTION_COMMANDS = {"purgeregistrations"}

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clao.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command in OWNER_COMMANDS:
        os.environ.setdefault("CLAO_DATABASE_AS", "owner")
    elif command in RETENTION_COMMANDS:
        os.environ.setdefault("CLAO_DATABASE_AS", "retention")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
