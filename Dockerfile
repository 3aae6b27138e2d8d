FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md schema.graphql ./
COPY domain ./domain
COPY graph ./graph
COPY persistence ./persistence
RUN pip install . && useradd --create-home --uid 10001 markets
USER markets
EXPOSE 8000
ENV ENVIRONMENT=production
CMD ["markets", "serve", "--host", "0.0.0.0", "--port", "8000"]
