# syntax=docker/dockerfile:1
# The CPU service image: `hpo serve scheduler|health|reporter|api` and `hpo db upgrade` (the migration job).
# What it installs is the project's own extras (HPO_EXTRAS, from pyproject.toml) pinned by requirements/dev.lock.
# The control panel (`hpo ui`, the ui extra: streamlit, plotly) runs from this image too.
# Layers: dependencies (change with pyproject.toml or the lock), then the project's wheel (every code change).

FROM python:3.11.13-slim-bookworm AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/hpo
ENV PATH=/opt/hpo/bin:$PATH
WORKDIR /src
ARG HPO_EXTRAS=scheduler,postgres,amqp,s3,api,reporter,health,ui
# Without contracts/ and services/ the project builds with no packages: pip installs only what its extras need.
COPY pyproject.toml README.md ./
COPY requirements/dev.lock requirements/dev.lock
RUN pip install --no-cache-dir --constraint requirements/dev.lock ".[${HPO_EXTRAS}]" \
 && pip uninstall --yes hpo

FROM deps AS wheel
COPY contracts contracts
COPY services services
RUN pip wheel --no-cache-dir --no-deps --constraint requirements/dev.lock --wheel-dir /wheels .

FROM python:3.11.13-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 hpo \
 && useradd --system --uid 10001 --gid hpo --home-dir /var/lib/hpo --create-home --shell /usr/sbin/nologin hpo \
 && install -d -o hpo -g hpo /var/lib/hpo/results /var/lib/hpo/work /data
ENV PATH=/opt/hpo/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/var/lib/hpo \
    MPLCONFIGDIR=/tmp/matplotlib
COPY --from=deps /opt/hpo /opt/hpo
COPY --from=wheel /wheels /wheels
RUN pip install --no-cache-dir --no-deps /wheels/*.whl && rm -rf /wheels
USER 10001:10001
WORKDIR /var/lib/hpo
# 9100: /healthz, /readyz and /metrics (HPO_HTTP_PORT); 8000: the REST API (HPO_API_PORT); 8501: the panel
EXPOSE 9100 8000 8501
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HPO_HTTP_PORT', '9100') + '/healthz', timeout=4)"]
ENTRYPOINT ["hpo"]
CMD ["serve", "api"]
