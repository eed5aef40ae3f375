# The backend image: API and worker run from the same image with different commands (see docker-compose.yml).
FROM python:3.11-slim-bookworm
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock
COPY ephemeral_vault ./ephemeral_vault
COPY activities ./activities
COPY workflows ./workflows
COPY api ./api
COPY migrations ./migrations
COPY programs/ephemeral_vault/target ./programs/ephemeral_vault/target
COPY worker.py ./
RUN useradd --system --uid 10001 vault && chown -R vault /app
USER vault
EXPOSE 8000
CMD ["python", "-m", "api"]
