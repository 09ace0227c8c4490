# The paperlens API image (used by docker-compose.yml). CPU build of torch; for a GPU host use an
# NVIDIA CUDA base image and the CUDA wheel of torch 2.13.0 instead.
FROM python:3.11-slim
WORKDIR /app
ENV HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 PAPERLENS_DATA_DIR=/data PAPERLENS_HOST=0.0.0.0
COPY requirements.lock pyproject.toml README.md ./
# The CPU wheel index keeps pip from pulling the multi-GB CUDA build of torch.
RUN pip install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.lock
COPY paperlens paperlens
COPY ingest ingest
COPY index index
COPY answer answer
COPY api api
COPY ui ui
RUN pip install --no-cache-dir --no-deps .
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"
CMD ["paperlens", "serve"]
