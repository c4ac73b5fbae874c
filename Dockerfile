FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# What the app needs to run; the test and lint tools (requirements-dev.txt) stay out.
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# Static files are collected once, here, as root: /app stays root-owned and read-only to
# the app user. The key and DEBUG exist only for this command; DATA_DIR keeps the SQLite
# folder the settings create out of the image.
RUN DEBUG=false SECRET_KEY=build-only-not-a-secret DATA_DIR=/tmp/build-data \
        python manage.py collectstatic --noinput \
    && rm -rf /tmp/build-data
RUN useradd --create-home app && mkdir -p /data && chown app /data
USER app
