# Two stages: build a virtualenv from the lock files, then copy it into a slim image that runs as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements/ requirements/
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r requirements/build.lock \
 && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY screening/ screening/
COPY lists/ lists/
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --create-home --home-dir /app screening \
 && mkdir -p /app/data && chown screening /app/data
COPY --from=build /opt/venv /opt/venv
COPY docker/entrypoint.sh /app/entrypoint.sh
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SCREENING_DATABASE_URL=sqlite:////app/data/screening.db \
    SCREENING_JOBS_DIR=/app/data/jobs \
    SCREENING_INDEX_CACHE_DIR=/app/data/index-cache \
    SCREENING_BIND=0.0.0.0:8000
WORKDIR /app
USER screening
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1
ENTRYPOINT ["/app/entrypoint.sh"]
