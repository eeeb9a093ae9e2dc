# syntax=docker/dockerfile:1
# The GPU trainer image: `hpo serve trainer` with tensorflow[and-cuda] (the `trainer-gpu` extra of pyproject.toml)
# on a CUDA base. TensorFlow is pinned to the version requirements/dev.lock pins for tensorflow-cpu, and every
# other package the lock pins is pinned the same way (--constraint); CUDA's own libraries come from the
# nvidia-* wheels that tensorflow[and-cuda] pulls in. The NVIDIA container runtime mounts the driver.
# Python is Ubuntu 24.04's (3.12); the CPU images run 3.11.
# Layers: dependencies (change with pyproject.toml or the lock), then the project's wheel (every code change).

FROM nvidia/cuda:12.6.3-base-ubuntu24.04 AS python
ENV DEBIAN_FRONTEND=noninteractive
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install --yes --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*

FROM python AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/hpo
ENV PATH=/opt/hpo/bin:$PATH
WORKDIR /src
ARG HPO_EXTRAS=trainer-gpu,amqp,s3
# Without contracts/ and services/ the project builds with no packages: pip installs only what its extras need.
COPY pyproject.toml README.md ./
COPY requirements/dev.lock requirements/dev.lock
RUN tensorflow_version="$(sed -n 's/^tensorflow-cpu==//p' requirements/dev.lock)" \
 && test -n "${tensorflow_version}" \
 && pip install --no-cache-dir --constraint requirements/dev.lock ".[${HPO_EXTRAS}]" \
      "tensorflow[and-cuda]==${tensorflow_version}" \
 && pip uninstall --yes hpo

FROM deps AS wheel
COPY contracts contracts
COPY services services
RUN pip wheel --no-cache-dir --no-deps --constraint requirements/dev.lock --wheel-dir /wheels .

FROM python AS runtime
RUN groupadd --system --gid 10001 hpo \
 && useradd --system --uid 10001 --gid hpo --home-dir /var/lib/hpo --create-home --shell /usr/sbin/nologin hpo \
 && install -d -o hpo -g hpo /var/lib/hpo/results /var/lib/hpo/work /data
ENV PATH=/opt/hpo/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/var/lib/hpo \
    MPLCONFIGDIR=/tmp/matplotlib \
    KERAS_HOME=/tmp/keras \
    TF_CPP_MIN_LOG_LEVEL=2 \
    TF_FORCE_GPU_ALLOW_GROWTH=true \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
COPY --from=deps /opt/hpo /opt/hpo
COPY --from=wheel /wheels /wheels
RUN pip install --no-cache-dir --no-deps /wheels/*.whl && rm -rf /wheels
USER 10001:10001
WORKDIR /var/lib/hpo
# 9100: /healthz, /readyz and /metrics (HPO_HTTP_PORT)
EXPOSE 9100
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HPO_HTTP_PORT', '9100') + '/healthz', timeout=4)"]
ENTRYPOINT ["hpo"]
CMD ["serve", "trainer"]
