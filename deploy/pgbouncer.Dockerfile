# PgBouncer from Debian's package, for deploy/pgbouncer.yaml:
#   docker build -f deploy/pgbouncer.Dockerfile -t registry.example.be/clao-pgbouncer:1.18 deploy
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends pgbouncer \
    && rm -rf /var/lib/apt/lists/* \
    && groupmod -g 70 postgres && usermod -u 70 -g 70 postgres
USER postgres
EXPOSE 6432
ENTRYPOINT ["pgbouncer"]
