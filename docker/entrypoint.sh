#!/bin/sh
# Container entrypoint: apply migrations, then run the given command (daphne by default) as PID 1.
# With several replicas, run migrations once instead (k8s/migrate-job.yaml) and bypass this script.
set -eu
python manage.py migrate --noinput
exec "$@"
