# driftctl as a baked, pinned image (docs: ../shared/seeds ADR 0004 and ADR 004):
# everything is installed at build time from hash- or checksum-pinned inputs, nothing is fetched
# when a container starts, and the tool runs as a non-root user without a login shell.
#
#   docker buildx build \
#     --build-arg PYTHON_IMAGE=docker.io/library/python:3.12-slim-bookworm@sha256:<digest> \
#     --build-arg TERRAFORM_SHA256=<sha256 of terraform_1.5.7_linux_amd64.zip> \
#     --build-arg TERRAGRUNT_SHA256=<sha256 of terragrunt_linux_amd64 v0.99.4> \
#     -t driftctl:dev .
#
# .woodpecker/build-image.yml is the real build: it resolves the base digest, passes the checksums,
# scans the result with Trivy and pushes only a clean image. One platform per build: each checksum
# ARG is the checksum of one architecture's file (TARGETARCH, amd64 when not set by buildx).

# PYTHON_IMAGE: the base of both stages, to be pinned by digest, i.e.
#   docker.io/library/python:3.12-slim-bookworm@sha256:<64 hex>
# The digest could not be looked up where this file was written (no registry access), so the default
# below is the tag alone. .woodpecker/build-image.yml resolves the tag's current digest on every build,
# the weekly rebuild included (that is how fixes to the Debian layer arrive when nothing else changed),
# passes it here and records it in the org.opencontainers.image.base.name label. If you pin the digest
# in this file instead, Dependabot/Renovate (docker ecosystem) must bump it weekly, or the weekly
# rebuild keeps rebuilding the same old base.
ARG PYTHON_IMAGE=docker.io/library/python:3.12-slim-bookworm

# ---------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

# Terraform: the old CI image shipped 1.5.7, users run up to 1.11; driftctl reads plan JSON from all.
ARG TERRAFORM_VERSION=1.5.7
# sha256 of terraform_${TERRAFORM_VERSION}_linux_${TARGETARCH}.zip, as listed in
# https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/terraform_${TERRAFORM_VERSION}_SHA256SUMS
# (check that file's signature, .sig, against HashiCorp's key). No default: the build fails without it.
ARG TERRAFORM_SHA256
ARG TERRAGRUNT_VERSION=0.99.4
# sha256 of terragrunt_linux_${TARGETARCH}, as listed in the SHA256SUMS file of
# https://github.com/gruntwork-io/terragrunt/releases/tag/v${TERRAGRUNT_VERSION}. No default.
ARG TERRAGRUNT_SHA256
# Optional OpenTofu (for `--tool tofu`): set both to include it.
ARG OPENTOFU_VERSION=
# sha256 of tofu_${OPENTOFU_VERSION}_linux_${TARGETARCH}.zip from that release's SHA256SUMS.
ARG OPENTOFU_SHA256=
ARG TARGETARCH

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# curl and unzip only exist in this stage. Debian package versions are not pinned: the base is pinned
# by digest and bookworm only takes security fixes.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl unzip \
 && rm -rf /var/lib/apt/lists/*

ENV CHECKPOINT_DISABLE=1

# verify-sha256 NAME FILE SHA256: fails the build unless SHA256 is given, is 64 hex digits, and is FILE's.
# (The single quotes are meant: the script's variables expand when it runs, not when it is written.)
# hadolint ignore=SC2016
RUN printf '%s\n' \
      '#!/bin/sh' \
      'set -eu' \
      'name=$1 file=$2 want=${3:-}' \
      'if [ -z "$want" ]; then echo "$name is required: pass --build-arg $name=<sha256 of $(basename "$file")>" >&2; exit 1; fi' \
      'if ! printf "%s" "$want" | grep -Eqx "[0-9a-f]{64}"; then echo "$name is not a sha256 (64 lowercase hex): $want" >&2; exit 1; fi' \
      'echo "$want  $file" | sha256sum --check --strict -' \
      >/usr/local/bin/verify-sha256 \
 && chmod 0755 /usr/local/bin/verify-sha256 \
 && mkdir -p /out/bin

WORKDIR /tmp/dl

RUN arch="${TARGETARCH:-amd64}" \
 && zip="terraform_${TERRAFORM_VERSION}_linux_${arch}.zip" \
 && curl -fsSL --retry 3 -o "$zip" "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/${zip}" \
 && verify-sha256 TERRAFORM_SHA256 "$zip" "${TERRAFORM_SHA256:-}" \
 && unzip -q "$zip" terraform -d /out/bin \
 && rm -f "$zip" \
 && /out/bin/terraform version

RUN arch="${TARGETARCH:-amd64}" \
 && bin="terragrunt_linux_${arch}" \
 && curl -fsSL --retry 3 -o "$bin" \
      "https://github.com/gruntwork-io/terragrunt/releases/download/v${TERRAGRUNT_VERSION}/${bin}" \
 && verify-sha256 TERRAGRUNT_SHA256 "$bin" "${TERRAGRUNT_SHA256:-}" \
 && install -m 0755 "$bin" /out/bin/terragrunt \
 && rm -f "$bin" \
 && /out/bin/terragrunt --version

RUN if [ -z "${OPENTOFU_VERSION}" ]; then echo "OpenTofu not requested (OPENTOFU_VERSION empty)"; exit 0; fi \
 && arch="${TARGETARCH:-amd64}" \
 && zip="tofu_${OPENTOFU_VERSION}_linux_${arch}.zip" \
 && curl -fsSL --retry 3 -o "$zip" \
      "https://github.com/opentofu/opentofu/releases/download/v${OPENTOFU_VERSION}/${zip}" \
 && verify-sha256 OPENTOFU_SHA256 "$zip" "${OPENTOFU_SHA256:-}" \
 && unzip -q "$zip" tofu -d /out/bin \
 && rm -f "$zip" \
 && /out/bin/tofu version

# driftctl and its dependencies in /opt/venv: every wheel checked against ci/requirements.lock's hashes
# (bash ci/lock regenerates it), no dependency resolution, no source builds; then driftctl itself,
# built offline with the locked setuptools. pip and setuptools leave the venv afterwards.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY ci/requirements.lock ci/requirements.lock
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes --no-deps --only-binary :all: -r ci/requirements.lock
COPY pyproject.toml README.md ./
COPY driftctl ./driftctl
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation --no-index . \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/python -m pip uninstall --yes setuptools pip \
 && /opt/venv/bin/driftctl --version

# ---------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG PYTHON_IMAGE
ARG VERSION=dev
ARG VCS_REF=unknown
ARG SOURCE_URL=https://git.example.com/infra/driftctl
LABEL org.opencontainers.image.title="driftctl" \
      org.opencontainers.image.description="Plans every Terragrunt/Terraform stack, classifies drift, pushes drift metrics." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# git (changed-stack selection) and CA certificates only. The base image's own pip is removed so nothing
# in the image can install packages. The user has no password and /usr/sbin/nologin as its shell.
# safe.directory: CI clones the workspace as another uid (root), and git refuses to read a repository
# owned by someone else unless told to; this image only ever reads the checkout it is given.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m pip uninstall --yes --root-user-action=ignore pip \
 && git config --system --add safe.directory '*' \
 && groupadd --system --gid 10001 driftctl \
 && useradd --system --uid 10001 --gid 10001 --no-log-init \
      --home-dir /home/driftctl --create-home --shell /usr/sbin/nologin driftctl \
 && mkdir -p /home/driftctl/.terraform.d/plugin-cache /work \
 && chown -R 10001:10001 /home/driftctl /work

# Root-owned and read-only for the user: the venv (same Python as the builder, same base) and the tools.
COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /out/bin/ /usr/local/bin/

# TF_PLUGIN_CACHE_DIR: providers are downloaded once per run and shared by the stacks. Terraform >= 1.4
# only reuses a cached provider whose checksum a committed .terraform.lock.hcl lists, so commit the lock
# files to benefit. TF_IN_AUTOMATION/CHECKPOINT_DISABLE: no "next steps" chatter, no version check call.
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/home/driftctl \
    TF_PLUGIN_CACHE_DIR=/home/driftctl/.terraform.d/plugin-cache \
    TF_IN_AUTOMATION=1 \
    CHECKPOINT_DISABLE=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

USER 10001:10001
WORKDIR /work
ENTRYPOINT ["driftctl"]
CMD ["--help"]
