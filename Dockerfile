# pmoflow: gunicorn serving the web UI and the API. PostgreSQL via PMOFLOW_DATABASE_URL.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY engine engine
COPY api api
COPY webui webui
COPY designer designer
COPY cli cli
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 pmoflow
COPY --from=build /install /usr/local
COPY workflows /app/workflows
WORKDIR /app
ENV PMOFLOW_WORKFLOWS_DIR=/app/workflows \
    PMOFLOW_DATABASE_URL=sqlite:////app/var/pmoflow.sqlite3 \
    PYTHONUNBUFFERED=1
RUN mkdir -p /app/var && chown pmoflow /app/var
USER pmoflow
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz?scope=process').status == 200 else 1)"
# `pmoflow init` is idempotent: it upgrades the schema and deploys new workflow versions only.
CMD ["sh", "-c", "pmoflow init && exec gunicorn --bind 0.0.0.0:8000 --workers ${WEB_CONCURRENCY:-2} --threads 4 --worker-class gthread --access-logfile - 'webui.wsgi:app'"]
