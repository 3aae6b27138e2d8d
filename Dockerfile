# syntax=docker/dockerfile:1
# The image installs the package as built (a wheel), never a hand-kept list of its folders: whatever
# `pip wheel .` ships is what runs, and scripts/check_wheel.sh (in CI) starts that same wheel.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
# The project's wheel and a wheel of each dependency (binary wheels exist for all: no compiler).
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels markets \
    && useradd --create-home --uid 10001 markets
USER markets
WORKDIR /home/markets
EXPOSE 8000
ENV ENVIRONMENT=production
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["markets", "serve", "--host", "0.0.0.0", "--port", "8000"]
