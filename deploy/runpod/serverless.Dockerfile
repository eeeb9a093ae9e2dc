# syntax=docker/dockerfile:1
# The RunPod serverless worker: the GPU trainer image (deploy/docker/trainer-gpu.Dockerfile, built as
# hpo-trainer-gpu) plus the pinned runpod SDK, running the handler module. One job trains one trial.
#   docker build -f deploy/docker/trainer-gpu.Dockerfile -t hpo-trainer-gpu:latest .
#   docker build -f deploy/runpod/serverless.Dockerfile -t REGISTRY/hpo-serverless:TAG .
# Without HPO_S3_* the trained model comes back in the job's result (base64); with them it goes to the store.
ARG TRAINER_IMAGE=hpo-trainer-gpu:latest
FROM ${TRAINER_IMAGE}
USER root
# the version of the `runpod` extra in pyproject.toml
RUN pip install --no-cache-dir runpod==1.12.0
USER 10001:10001
ENV HPO_TRAINER_WORK_DIR=/var/lib/hpo/work \
    HPO_TRAINER_DATA_DIR=/data
ENTRYPOINT ["python", "-m", "services.trainer.serverless"]
CMD []
