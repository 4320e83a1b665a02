# syntax=docker/dockerfile:1.7
#
# Mezite images: one multi-stage build, one target per image.
#
#   docker build --target auth-server   -t mezite/auth-server:0.1.0   .
#   docker build --target token-service -t mezite/token-service:0.1.0 .
#   docker build --target ssh-ca        -t mezite/ssh-ca:0.1.0        .
#   docker build --target cli           -t mezite/cli:0.1.0           .   # mezctl, mezd, msh
#   docker build --target dev           -t mezite/dev                 .   # Tilt's live-update image
#
# Service images run as uid 10001 on a read-only root filesystem: nothing under /app is
# writable, only /var/lib/mezite and /tmp when the pod mounts volumes there. They differ
# only in the command, the ports and the health check; each also carries the CLI
# (`kubectl exec deploy/auth-server -- mezctl …`) and `deploy/docker/mezite-migrate.cjs`,
# which the migration Job runs. See docs/OPERATIONS.md, "Images". CI has no Docker
# engine: test/deploy/dockerfile.test.ts checks this file statically.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- base: Node and pnpm (the version package.json's packageManager names) ----------
FROM ${NODE_IMAGE} AS base
ARG PNPM_VERSION=10.34.9
ENV PNPM_HOME=/pnpm \
    PATH=/pnpm:$PATH \
    CI=true \
    npm_config_store_dir=/pnpm/store
RUN npm install --global --no-fund --no-audit pnpm@${PNPM_VERSION}
WORKDIR /app

# ---- build: every dependency, then `pnpm build` exactly as CI does -------------------
FROM base AS build
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json ./
RUN --mount=type=cache,id=mezite-pnpm-store,target=/pnpm/store \
    pnpm fetch --frozen-lockfile
COPY . .
RUN --mount=type=cache,id=mezite-pnpm-store,target=/pnpm/store \
    pnpm install --frozen-lockfile --offline
RUN pnpm -s build

# ---- prod-deps: production dependencies of what the images run, no install scripts --
# Only the workspace packages the services and the CLI need (test/deploy checks this
# list against their workspace:* dependencies); the quickstart's stack (embedded
# PostgreSQL) and the tests stay out.
FROM base AS prod-deps
COPY pnpm-lock.yaml pnpm-workspace.yaml package.json ./
COPY packages/proto/package.json packages/proto/
COPY packages/identity/package.json packages/identity/
COPY packages/ssh/package.json packages/ssh/
COPY packages/platform/package.json packages/platform/
COPY packages/cli/package.json packages/cli/
COPY packages/daemon/package.json packages/daemon/
COPY services/auth-server/package.json services/auth-server/
COPY services/token-service/package.json services/token-service/
COPY services/ssh-ca/package.json services/ssh-ca/
RUN --mount=type=cache,id=mezite-pnpm-store,target=/pnpm/store \
    pnpm install --prod --frozen-lockfile --ignore-scripts

# ---- runtime: what every service image and the CLI image share -----------------------
FROM ${NODE_IMAGE} AS runtime
# npm, corepack and yarn are not needed at run time: fewer packages, fewer CVEs.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx \
        /usr/local/bin/corepack /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-* \
 && groupadd --system --gid 10001 mezite \
 && useradd --system --uid 10001 --gid mezite --home-dir /var/lib/mezite --no-create-home \
        --shell /usr/sbin/nologin mezite \
 && install -d -o mezite -g mezite -m 0700 /var/lib/mezite
ENV NODE_ENV=production \
    HOME=/var/lib/mezite \
    MEZITE_DATA_DIR=/var/lib/mezite \
    PATH=/app/bin:$PATH
WORKDIR /app
COPY --from=prod-deps /app ./
COPY --from=build /app/bin ./bin
COPY --from=build /app/packages/proto/dist ./packages/proto/dist
COPY --from=build /app/packages/identity/dist ./packages/identity/dist
COPY --from=build /app/packages/ssh/dist ./packages/ssh/dist
COPY --from=build /app/packages/platform/dist ./packages/platform/dist
COPY --from=build /app/packages/cli/dist ./packages/cli/dist
COPY --from=build /app/packages/daemon/dist ./packages/daemon/dist
COPY --from=build /app/services/auth-server/dist ./services/auth-server/dist
COPY --from=build /app/services/auth-server/migrations ./services/auth-server/migrations
COPY --from=build /app/services/token-service/dist ./services/token-service/dist
COPY --from=build /app/services/token-service/migrations ./services/token-service/migrations
COPY --from=build /app/services/ssh-ca/dist ./services/ssh-ca/dist
COPY --from=build /app/services/ssh-ca/migrations ./services/ssh-ca/migrations
COPY --from=build /app/deploy/docker/mezite-migrate.cjs ./deploy/docker/mezite-migrate.cjs
USER 10001:10001

# ---- the service images ---------------------------------------------------------------
# Listen addresses default to every interface; MEZITE_HEALTH_ADDR is the plaintext
# grpc.health.v1 listener (kubelet's grpc probe, the HEALTHCHECK below) and
# MEZITE_METRICS_ADDR serves Prometheus' /metrics.
FROM runtime AS auth-server
ENV MEZITE_AUTH_SERVER_ADDR=0.0.0.0:3025 \
    MEZITE_HTTP_ADDR=0.0.0.0:8080 \
    MEZITE_HEALTH_ADDR=0.0.0.0:8086 \
    MEZITE_METRICS_ADDR=0.0.0.0:9464 \
    MEZITE_ADMIN_IDENTITY_FILE=/var/lib/mezite/admin-identity.json \
    OTEL_SERVICE_NAME=auth-server
EXPOSE 3025 8080 8086 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["node", "/app/bin/mezite-health", "127.0.0.1:8086"]
USER 10001:10001
CMD ["node", "services/auth-server/dist/main.js"]

FROM runtime AS token-service
ENV MEZITE_TOKEN_SERVICE_ADDR=0.0.0.0:3026 \
    MEZITE_HEALTH_ADDR=0.0.0.0:8086 \
    MEZITE_METRICS_ADDR=0.0.0.0:9464 \
    OTEL_SERVICE_NAME=token-service
EXPOSE 3026 8086 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["node", "/app/bin/mezite-health", "127.0.0.1:8086"]
USER 10001:10001
CMD ["node", "services/token-service/dist/main.js"]

FROM runtime AS ssh-ca
ENV MEZITE_SSH_CA_ADDR=0.0.0.0:3027 \
    MEZITE_HEALTH_ADDR=0.0.0.0:8086 \
    MEZITE_METRICS_ADDR=0.0.0.0:9464 \
    OTEL_SERVICE_NAME=ssh-ca
EXPOSE 3027 8086 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
    CMD ["node", "/app/bin/mezite-health", "127.0.0.1:8086"]
USER 10001:10001
CMD ["node", "services/ssh-ca/dist/main.js"]

# ---- the CLI image: mezctl (default), mezd, msh ----------------------------------------
#   docker run --rm -v mezd:/var/lib/mezite mezite/cli:0.1.0 --help
#   docker run -d -v mezd:/var/lib/mezite --entrypoint mezd mezite/cli:0.1.0 identity start …
# mezd keeps its state in --data-dir (default ~/.local/state/mezite/identity, i.e. under
# /var/lib/mezite here): mount a volume there. It serves no port, so the health check
# only asks that the process runs.
FROM runtime AS cli
HEALTHCHECK NONE
USER 10001:10001
ENTRYPOINT ["mezctl"]
CMD ["--help"]

# ---- dev: Tilt's live-update image ----------------------------------------------------
# The build stage (sources, compiler, every dependency) owned by the app user, so Tilt
# can sync TypeScript sources into /app and run `tsc -b` in the container, and
# `node --watch` restarts the service on the new output. Never for production: the
# root filesystem must be writable (the Tiltfile relaxes readOnlyRootFilesystem).
FROM build AS dev
RUN groupadd --system --gid 10001 mezite \
 && useradd --system --uid 10001 --gid mezite --home-dir /var/lib/mezite --no-create-home \
        --shell /usr/sbin/nologin mezite \
 && install -d -o mezite -g mezite -m 0700 /var/lib/mezite \
 && chown -R mezite:mezite /app/packages /app/services /app/bin /app/deploy
ENV NODE_ENV=development \
    HOME=/var/lib/mezite \
    MEZITE_DATA_DIR=/var/lib/mezite \
    PATH=/app/bin:$PATH
HEALTHCHECK NONE
USER 10001:10001
CMD ["node", "--watch", "services/auth-server/dist/main.js"]
