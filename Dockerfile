# DTMA agent image. Layers go from least to most often changed, so a code-only change rebuilds
# (and ships) only the small last layer; version data lives in the config, not in any layer.
#
# BASE_IMAGE: python:3.12-slim on a machine that can pull it; where no registry is reachable,
# the tooling passes a local Debian base instead (tasks/images.py: dtma-local-base:bookworm).
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/venv
# Only the requirements file: the dependency layer is reused until it changes.
COPY dtma/requirements.txt /tmp/requirements.txt
# pip and setuptools are only needed to install: dropping them saves ~25 MB in the image.
RUN /opt/venv/bin/pip install -r /tmp/requirements.txt \
 && /opt/venv/bin/pip uninstall -y -q pip setuptools

FROM ${BASE_IMAGE}
# Runs as root on purpose: the agent manages tool containers through the host's Docker socket,
# which is root:docker 0660 on droplets and whose docker group id differs from host to host.
# Socket access is root-equivalent anyway, so a non-root user here would add no isolation.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=30000
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# The image config that never changes: before the code, so a code change reuses it.
EXPOSE 30000
# Liveness with the standard library only (no curl in slim images), on the port the agent serves
# now: its check port while it is a handover candidate (DTMA_CHECK_PORT), else PORT.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["/opt/venv/bin/python", "-m", "dtma.healthcheck"]
CMD ["/opt/venv/bin/python", "-m", "dtma"]
ARG DTMA_VERSION=unversioned VCS_REF=unknown BUILD_DATE=unknown

COPY dtma/ /app/dtma/

# Everything below changes only the image config (no layers): one step each, as few as can be
# (the legacy builder makes an intermediate container for every step after a change).
ENV DTMA_VERSION=${DTMA_VERSION}
LABEL org.opencontainers.image.title="dtma" \
      org.opencontainers.image.description="Droplet Tool Management Agent" \
      org.opencontainers.image.version="${DTMA_VERSION}" \
      org.opencontainers.image.revision="${VCS_REF}" \
      org.opencontainers.image.created="${BUILD_DATE}" \
      dtma.version="${DTMA_VERSION}"
