# syntax=docker/dockerfile:1
# ClaO production image: gunicorn serving clao.wsgi on port 8000, static files through WhiteNoise.
# Configured at run time only through environment variables (see README.md), e.g.
#   docker build -t clao .
#   docker run --rm -e SECRET_KEY=... -e ALLOWED_HOSTS=clao.example.be \
#     -e DATABASE_URL=postgres://clao:...@db:5432/clao \
#     -e DATABASE_OWNER_URL=postgres://clao_owner:...@db:5432/clao clao python manage.py migrate
#   docker run -p 8000:8000 -e SECRET_KEY=... -e ALLOWED_HOSTS=... -e DATABASE_URL=... clao
# migrate runs as the tables' owner and grants DATABASE_URL's role (which may only read and
# append registrations) its privileges; the web process gets DATABASE_URL only
# (docs/security.md).
# gunicorn.conf.py reads GUNICORN_BIND (default 0.0.0.0:8000), WEB_CONCURRENCY (workers, default
# 1) and GUNICORN_TIMEOUT; gunicorn itself GUNICORN_CMD_ARGS and FORWARDED_ALLOW_IPS.
# Probes: /healthz (liveness) and /readyz (database and migrations), see clao/health.py.
# Run `python manage.py clearsessions` from this image periodically (cron, or a Kubernetes
# CronJob: see README.md, "Periodic clean-up").

ARG PYTHON_IMAGE=python:3.13-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
# gettext: msgfmt for compilemessages (build stage only).
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
# lxml and xmlsec only as wheels: the manylinux wheels link libxml2, libxslt, xmlsec1 and
# OpenSSL statically (the same libxml2 for both), so the final stage needs no extra libraries.
RUN /opt/venv/bin/pip install --upgrade pip \
    && /opt/venv/bin/pip install --only-binary lxml,xmlsec -r /tmp/requirements.lock
WORKDIR /app
COPY . .
# The settings refuse to load without SECRET_KEY when DEBUG is off: a throw-away key, used by
# these two build commands only and never stored in the image.
RUN if find locale -name '*.po' | grep -q .; then \
        DEBUG=0 SECRET_KEY=build-only /opt/venv/bin/python manage.py compilemessages; \
    fi \
    && DEBUG=0 SECRET_KEY=build-only /opt/venv/bin/python manage.py collectstatic --noinput \
    && rm -rf var

FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DEBUG=0 \
    CLAO_VAR_DIR=/app/var
# DejaVu Sans: the DDT poster's PDF prints every language's letters (employer_space/poster.py).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin clao
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app
# The code stays owned by root (read-only for the app); only var/ is writable.
RUN mkdir -p /app/var && chown clao:clao /app/var
WORKDIR /app
USER clao
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "clao.wsgi:application"]
