# The image the examples in deploy/ run: trailsweep installed exactly as the README's
# "Install" line installs it (`python3 -m pip install .` from a clone), on a slim
# Python 3.11, run as a non-root user. Build it from the repository's root:
#
#   docker build -t trailsweep .                      # ENTRYPOINT trailsweep (Kubernetes, docker run)
#   docker build --target batch -t trailsweep:batch . # no ENTRYPOINT (AWS Batch, see below)
#
# There is no container runtime on the machines this project is developed and tested
# on: tests/test_deploy.py parses this file (base, user, install line, entrypoint); the
# image is never built there.

FROM python:3.11-slim AS batch
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin trailsweep
COPY pyproject.toml README.md /src/
COPY src /src/src
WORKDIR /src
RUN python3 -m pip install . && rm -rf /src
WORKDIR /home/trailsweep
USER 10001
# AWS Batch cannot replace an image's ENTRYPOINT (a job definition's containerProperties
# has a command and no entryPoint) and does not expand variables in the command, so the
# array job's command is `sh -c '... shard-$AWS_BATCH_JOB_ARRAY_INDEX'`: this stage,
# with no ENTRYPOINT of its own, is the image deploy/aws-batch/ runs.

FROM batch AS trailsweep
# `docker run trailsweep sweep ...`; a Kubernetes container's args are trailsweep's.
ENTRYPOINT ["trailsweep"]
