# The VIO Manager appliance image: web (gunicorn), worker and beat all run from it.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 VIO_DATA_DIR=/var/lib/vio-manager
WORKDIR /app
COPY pyproject.toml README.md manage.py ./
COPY vio_manager vio_manager
COPY inventory inventory
COPY deployments deployments
COPY simulators simulators
COPY templates templates
COPY static static
RUN pip install --no-cache-dir -e . \
 && useradd --system --home-dir /var/lib/vio-manager vio \
 && mkdir -p /var/lib/vio-manager && chown vio /var/lib/vio-manager
USER vio
# Static files are collected at start (into the data volume) by the migrate service.
EXPOSE 8443
CMD ["gunicorn", "vio_manager.wsgi", "--bind", "0.0.0.0:8443", "--workers", "2"]
