#!/bin/sh
# Container entrypoint: apply migrations, then run the given command (daphne by default) as PID 1.
# With several replicas, run migrations once instead (k8s/migrate-job.yaml) and bypass this script.
set -eu
python manage.py migrate --noinput
# WINKR_SERVER=uvicorn|granian replaces the default daphne command (same port, HTTP and WebSockets); any other
# command given to the container runs as is. See the README, "Choosing the ASGI server".
if [ "${1:-}" = "daphne" ]; then
    case "${WINKR_SERVER:-daphne}" in
        daphne) ;;
        uvicorn) exec uvicorn --host 0.0.0.0 --port 8000 --ws websockets --proxy-headers \
                     --forwarded-allow-ips "${WINKR_FORWARDED_ALLOW_IPS:-127.0.0.1}" winkr.asgi:application ;;
        granian) exec granian --interface asgi --host 0.0.0.0 --port 8000 --ws winkr.asgi:application ;;
        *) echo "WINKR_SERVER must be daphne, uvicorn or granian (got '${WINKR_SERVER}')" >&2; exit 64 ;;
    esac
fi
exec "$@"
