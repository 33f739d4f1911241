# syntax=docker/dockerfile:1
# One image for every role: `serve` (the default command), `worker`, `scheduler`, `run` (the
# in-process scheduler), `migrate`, `demo`, and every other command of run.py.
#
#   docker build -t localgov-aggregator .
#   docker build --build-arg BASE=localgov-aggregator/python-base:bookworm -t localgov-aggregator .
#
# BASE must hold Python 3.11 or newer with venv support: the official slim image, or the one
# deploy/docker/debian-base.sh builds from Debian packages where images cannot be pulled.
ARG BASE=python:3.11-slim

# ---- build: the dependencies in a virtual environment (compilers and caches stay here)
FROM ${BASE} AS build
# PEM certificates to trust while installing, for builders behind a TLS-inspecting proxy
# (--build-arg EXTRA_CA_CERTS="$(cat /usr/local/share/ca-certificates/*.crt)"); the runtime
# image does not keep them
ARG EXTRA_CA_CERTS=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/aggregator
# only the dependencies are installed here (the code is copied into the runtime stage, where
# it runs from /app beside its templates), so this layer is rebuilt when pyproject.toml
# changes, not at every change of the code
COPY pyproject.toml README.md /src/
RUN mkdir /src/aggregator && touch /src/aggregator/__init__.py \
 && cat /etc/ssl/certs/ca-certificates.crt > /tmp/ca.pem \
 && printf '%s\n' "$EXTRA_CA_CERTS" >> /tmp/ca.pem \
 && PIP_CERT=/tmp/ca.pem /opt/aggregator/bin/pip install "/src[postgres]" \
 && /opt/aggregator/bin/pip uninstall -y localgov-aggregator \
 && rm /tmp/ca.pem

# ---- runtime
FROM ${BASE}
ENV PATH=/opt/aggregator/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    AGGREGATOR_CACHE_DIR=/var/cache/aggregator \
    LANG=C.UTF-8
RUN useradd --system --uid 10001 --user-group --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin aggregator \
 && install -d -o aggregator -g aggregator -m 0750 /data /var/cache/aggregator
COPY --from=build /opt/aggregator /opt/aggregator
# code and templates owned by root: the service user can read them, never change them
COPY aggregator /app/aggregator
COPY templates /app/templates
COPY run.py /app/run.py
# bytecode, the compiled translation catalogs and templates, kept while the code is writable
RUN python3 -m compileall -q /app/aggregator \
 && python3 -c "from aggregator.i18n.catalogs import compile_catalogs; compile_catalogs()" \
 && python3 -c "from aggregator.i18n.templating import compile_templates; compile_templates()"
USER aggregator
WORKDIR /data
VOLUME ["/data", "/var/cache/aggregator"]
EXPOSE 8080
# healthy: the store answers and a cycle finished recently (see /healthz); a worker or
# scheduler container overrides or disables this (compose.yaml)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python3", "-c", "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
ENTRYPOINT ["python3", "/app/run.py"]
CMD ["serve", "--config", "/data/feeds.yaml", "--host", "0.0.0.0", "--port", "8080"]
