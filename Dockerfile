# Darkroom's image: wheels are built in the first stage, the second is a small non-root runtime.
#
#   docker build -t darkroom .
#   docker run -p 8080:8080 -v darkroom-data:/data \
#       -e SECRET_KEY=… -e ALLOWED_HOSTS=images.example.com darkroom
#
# Both stages use the same base, so the virtualenv built in the first runs unchanged in the second.

FROM python:3.11-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

COPY requirements.txt /tmp/requirements.txt
# Every runtime dependency as a wheel (binary wheels from the index, anything else built here), then
# installed from those wheels alone into a virtualenv, which is all the runtime stage takes: without
# pip, and without Django's translation sources (the compiled .mo files are what runs).
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip wheel --wheel-dir /tmp/wheels -r /tmp/requirements.txt \
 && /opt/venv/bin/pip install --no-index --find-links /tmp/wheels -r /tmp/requirements.txt \
 && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools \
 && find /opt/venv -name '*.po' -delete


FROM python:3.11-slim-bookworm

# DATA_DIR is the volume: the SQLite database, the originals and the variant cache.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DARKROOM_ENV=production \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8080 \
    WEB_CONCURRENCY=2 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/darkroom-prometheus

# A fixed numeric id, so that `runAsNonRoot` checks and volume ownership are predictable.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 darkroom \
 && useradd --uid 10001 --gid darkroom --home-dir /app --no-create-home --shell /usr/sbin/nologin darkroom \
 && mkdir -p /data \
 && chown darkroom:darkroom /data

COPY --from=build /opt/venv /opt/venv

# The code stays owned by root: the service can read it, not change it. Only DATA_DIR is writable.
WORKDIR /app
COPY . /app

# Production settings refuse to load without a secret and a host name: throwaway values, for this step
# only. The code is compiled now, since the service may not write beside it (and starts faster).
RUN SECRET_KEY=collectstatic-only-not-a-secret ALLOWED_HOSTS=build.invalid DATA_DIR=/tmp/collectstatic \
        python manage.py collectstatic --noinput --verbosity 0 \
 && rm -rf /tmp/collectstatic \
 && python -m compileall -q /app

USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080

# Liveness only (the process answers); readiness is /readyz. Python's urllib: no curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8080'), timeout=4)"]

# tini is PID 1: it passes signals on to granian's master and reaps what is orphaned under it (a render
# process whose worker was SIGKILLed would otherwise stay a zombie). The entrypoint migrates the database
# on the volume, then execs the command: granian with server/granian_serve.py (README, "Why granian").
# gunicorn stays installed, the trial's other server:
#   docker run … darkroom gunicorn --config /app/server/gunicorn.py --control-socket /tmp/gunicorn.ctl server.wsgi:application
ENTRYPOINT ["/usr/bin/tini", "--", "/app/docker-entrypoint.sh"]
CMD ["python", "-m", "server.granian_serve"]
