# The probe image: preflight itself, for `preflight run --in-cluster` and smoke.inference.
#
#   docker build -t <your-registry>/preflight:0.1.0 .
#   preflight run --in-cluster --set probe_image=<your-registry>/preflight:0.1.0 ...
#
# Both stages come from mcr.microsoft.com, which every AKS node already pulls from in all three
# clouds; air-gapped and Azure China clusters mirror it (az acr import) and pass probe_image.
# The bases are pinned to a release line here; pin them to a digest for reproducible builds:
#   docker buildx imagetools inspect mcr.microsoft.com/azurelinux/distroless/python:3.12
# and build with --build-arg RUNTIME=mcr.microsoft.com/azurelinux/distroless/python@sha256:...
ARG BUILDER=mcr.microsoft.com/azurelinux/base/python:3.12
ARG RUNTIME=mcr.microsoft.com/azurelinux/distroless/python:3.12

FROM ${BUILDER} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY preflight ./preflight
COPY checks ./checks
COPY reports ./reports
COPY profiles ./profiles
RUN python3 -m pip install --no-cache-dir --no-compile --target /opt/preflight . \
    && python3 -m compileall -q /opt/preflight

# distroless: no shell, no package manager; only Python and preflight
FROM ${RUNTIME}
COPY --from=build /opt/preflight /opt/preflight
ENV PYTHONPATH=/opt/preflight \
    PATH=/opt/preflight/bin:/usr/bin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# the nonroot user of distroless images; pods run with runAsNonRoot and a read-only root
USER 65532:65532
ENTRYPOINT ["python3", "-m", "preflight"]
CMD ["--help"]
