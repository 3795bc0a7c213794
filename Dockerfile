# pop3srv: a POP3 server for the mail Amazon SES stores in S3.
#
#   docker build -t pop3srv .
#   docker run -p 995:2995 -p 110:2110 \
#     -e POP3_AWS_S3_BUCKET=my-ses-mail -e POP3_AWS_S3_REGION=eu-west-1 -e POP3_AWS_S3_PREFIX=inbox/ \
#     -e POP3_USER=jane -e POP3_PASSWORD=... pop3srv
#
# Configuration: POP3_* environment variables (key `some-key` is POP3_SOME_KEY), and the YAML file
# /etc/pop3srv/config.yaml (POP3_CONFIG; mount your own over the empty one shipped here) or the
# original's /etc/aws-ses-pop3-server/config.yaml. `docker run ... pop3srv check-config` prints the
# effective values with secrets redacted.

# --- build: the locked dependencies, then the project's wheel, into /opt/venv ------------------
FROM python:3.11-slim-bookworm AS builder

# a package mirror or proxy, unset by default:
#   docker build --build-arg PIP_INDEX_URL=https://mirror.example/simple -t pop3srv .
# PIP_CERT is a CA bundle path inside this stage; a bundle from the build host (a proxy that
# re-signs TLS) comes in as the build secret pip-ca, which is mounted at /run/secrets/pip-ca:
#   docker build --secret id=pip-ca,src=/etc/ssl/certs/ca-certificates.crt \
#     --build-arg PIP_CERT=/run/secrets/pip-ca -t pop3srv .
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_TRUSTED_HOST
ARG PIP_CERT

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src

# the dependencies in their own layer, from the lock only (every file checked against its hash;
# pip refuses a dependency the lock does not pin): a code change does not download them again.
# The lock also pins setuptools, the build backend, so the wheel below builds offline.
COPY requirements.lock ./
RUN --mount=type=secret,id=pip-ca \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --only-binary=:all: -r requirements.lock

COPY pyproject.toml README.md ./
COPY pop3srv ./pop3srv
COPY admin ./admin

# no test extras, no new downloads: the project's wheel built with the locked setuptools and
# installed without dependencies; then the installers leave the venv
RUN /opt/venv/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && /opt/venv/bin/pip install --no-deps --no-index /wheels/pop3srv-*.whl \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/pip uninstall --yes pip setuptools

# --- run ---------------------------------------------------------------------------------------
FROM python:3.11-slim-bookworm

LABEL org.opencontainers.image.title="pop3srv" \
      org.opencontainers.image.description="POP3 server for the mail Amazon SES stores in S3" \
      org.opencontainers.image.licenses="MIT"

# a fixed, unprivileged uid/gid so volumes and mounted secrets can be prepared for it
RUN groupadd --system --gid 10001 pop3srv \
    && useradd --system --uid 10001 --gid pop3srv --home-dir /var/lib/pop3srv \
       --shell /usr/sbin/nologin pop3srv \
    && install -d -o pop3srv -g pop3srv -m 0750 /var/lib/pop3srv /var/lib/pop3srv/mail \
    && install -d -o pop3srv -g pop3srv -m 0700 /etc/pop3srv/tls

COPY --from=builder /opt/venv /opt/venv
COPY deploy/config.yaml /etc/pop3srv/config.yaml

# state-dir: generated TLS certificate and admin token; mail-dir: the local store, used only
# without a bucket. Both live on the volume. The admin app (/healthz, /readyz, /metrics, the UI
# and API) listens on all interfaces of the container: its API and UI always require the admin
# token (POP3_ADMIN_TOKEN, or the one generated into state-dir/admin-token); publish port 8080
# only to networks you trust, since /metrics and the probes need no token.
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    POP3_CONFIG=/etc/pop3srv/config.yaml \
    POP3_STATE_DIR=/var/lib/pop3srv \
    POP3_MAIL_DIR=/var/lib/pop3srv/mail \
    POP3_ADMIN_HOST=0.0.0.0

USER 10001:10001
WORKDIR /var/lib/pop3srv
VOLUME ["/var/lib/pop3srv"]

# 2995 implicit TLS (pop3s), 2110 plaintext with STLS, 8080 admin app
EXPOSE 2995 2110 8080

# `pop3srv health` reads the same configuration as the server (a mounted config file's
# admin-port included) and asks that port's /healthz; `python -m pop3srv.health` is that check
# without importing the whole server (a quarter of a second of CPU every 15 s, not seconds)
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "pop3srv.health", "--timeout", "4"]

# SIGTERM (docker stop) drains: listeners close, sessions get shutdown-timeout (10 s) to finish;
# give the container a longer stop timeout than that (docker stop -t 20, compose stop_grace_period)
STOPSIGNAL SIGTERM
ENTRYPOINT ["pop3srv"]
CMD ["serve"]
