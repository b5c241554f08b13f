# One image for every graft service: scheduler, workers, Flower and the graph page.
# Users' workflow code is not baked in: `graft run --remote` uploads it to the store as a code
# bundle, and workers import it from there. Third-party libraries that tasks import must be in
# the image: add them with EXTRAS (pyproject extras) or a derived image.
#
#   docker build -t graft .
#   docker build --build-arg EXTRAS=postgres,examples,tables -t graft .
FROM python:3.11-slim

ARG EXTRAS=postgres,examples
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HOME=/var/lib/graft/home \
    GRAFT_HOME=/var/lib/graft/home \
    GRAFT_CACHE_DIR=/var/lib/graft/cache \
    GRAFT_STORE=/var/lib/graft/store

WORKDIR /opt/graft
COPY pyproject.toml README.md ./
COPY sdk ./sdk
COPY scheduler ./scheduler
COPY worker ./worker
RUN pip install ".[${EXTRAS}]" \
 && useradd --system --uid 10001 --create-home --home-dir /var/lib/graft graft \
 && mkdir -p /var/lib/graft/home /var/lib/graft/cache /var/lib/graft/store \
 && chown -R graft:graft /var/lib/graft \
 && chmod 1777 /var/lib/graft/home /var/lib/graft/cache /var/lib/graft/store

# Compose may run the services as another uid (GRAFT_UID) to share a host folder as the
# store; the folders above are writable by any user for that reason.
USER graft
WORKDIR /var/lib/graft
ENTRYPOINT ["graft"]
CMD ["--help"]
