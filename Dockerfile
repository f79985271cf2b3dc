# Multi-stage build: wheels are built in the first stage, the runtime image has no compiler
# and runs as an unprivileged user. Configure TR_DATABASE_URL and TR_REDIS_URL (see compose.yaml).
# The browser bundles of the pages and the API docs, fetched from the npm registry at the
# versions assets/ pins.
FROM node:20-slim AS assets
WORKDIR /assets
COPY assets/package.json assets/package-lock.json assets/.npmrc assets/copy-vendor.sh ./
RUN npm ci && sh copy-vendor.sh node_modules /vendor

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY --from=assets /vendor ./src/travel_recharge/web/static/vendor
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER app
WORKDIR /home/app
ENV TR_ENV=production TR_HOST=0.0.0.0 TR_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=2).status != 200)"
CMD ["travel-recharge", "serve", "--migrate"]
