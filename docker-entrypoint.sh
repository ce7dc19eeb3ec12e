#!/bin/sh
# The container's start: migrate the SQLite database on DATA_DIR's volume, then exec the command.
# Migrations run here, at every start of the server, and not in Fly's release_command: that runs
# on a temporary machine without the volume.
set -eu

if [ "$(id -u)" = 0 ]; then
    # Started as root (`docker run --user 0`, platforms that mount volumes root-owned): hand the volume
    # to the service's user, then run this script again as that user.
    chown darkroom:darkroom "${DATA_DIR:-/data}"
    exec setpriv --reuid=darkroom --regid=darkroom --init-groups -- "$0" "$@"
fi

case "$*" in
    "python -m server.granian_serve"* | gunicorn* | */gunicorn*) python manage.py migrate --noinput ;;
esac

exec "$@"
