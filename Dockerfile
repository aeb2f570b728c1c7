# Image for the qianliyan emulator, worker and webhook receiver in docker-compose.yml.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY detectors ./detectors
COPY emulators ./emulators
COPY dashboards ./dashboards
RUN pip install --no-cache-dir .

USER nobody
ENTRYPOINT ["qianliyan"]
CMD ["--help"]
