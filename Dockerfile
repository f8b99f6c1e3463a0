# Support-desk assistant: CPU-only image with the embedding model baked in (no download at run time).
# Build: docker build -t support-assistant .
# Run:   docker run -p 8000:8000 -v assistant-data:/data -e ASSISTANT_WEBHOOK_SECRETS=zendesk=... support-assistant
#        (train a classifier into /data first with `assistant train`; -e ASSISTANT_DEMO=true runs the demo)
FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# CPU build of torch first and pinned: PyPI's default torch wheel for Linux pulls CUDA (several GB).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
WORKDIR /src
COPY pyproject.toml README.md ./
COPY assistant ./assistant
COPY classifiers ./classifiers
COPY knowledge ./knowledge
RUN pip install .
# The default (onnx) backend's export of the shipped model, made here once rather than at first start.
RUN python -c "from assistant.settings import default_model_path; from knowledge.onnx_export import exported_model; \
exported_model(default_model_path(), '/opt/models')"

FROM python:3.11-slim-bookworm

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    ASSISTANT_DATA_DIR=/data \
    ASSISTANT_MODEL_CACHE_DIR=/opt/models \
    ASSISTANT_DEMO=false \
    ASSISTANT_HOST=0.0.0.0 \
    ASSISTANT_PORT=8000
COPY --from=build /opt/venv /opt/venv
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin assistant \
    && mkdir -p /data && chown assistant /data
# Writable by the service: should the baked export not match the model (a changed model), it exports again.
COPY --from=build --chown=assistant /opt/models /opt/models
USER assistant
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# Loading the model takes seconds; the demo's first start also trains its classifier.
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"ASSISTANT_PORT\"]}/ready', timeout=4)" || exit 1
CMD ["assistant", "serve"]
