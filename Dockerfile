# ipgate image: `docker build -t ipgate .`, or `docker compose build` with compose.yaml.
# tests/deploy-dockerfile.test.ts checks this file and runs its HEALTHCHECK for real.

# Build stage: every dependency, to compile src/ into dist/.
FROM node:20-alpine AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Compiling needs no install scripts (no native add-ons), so none run.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies and the compiled output only.
FROM node:20-alpine
LABEL org.opencontainers.image.title="ipgate" \
      org.opencontainers.image.description="IP gate for Traefik forwardAuth, Caddy and nginx: allows static CIDRs and IPs that just signed in to Authentik" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="node:20-alpine"

# tini as PID 1 forwards SIGTERM to node, so `docker stop` runs ipgate's graceful
# shutdown, and reaps zombies. (Compose's `init: true` would do the same; not needed here.)
RUN apk add --no-cache tini

# The ipgate command line, on PATH: `docker compose exec ipgate ipgate grants list`.
# A wrapper rather than `npm link`, which would need the package's dev install here.
RUN printf '#!/bin/sh\nexec node /app/dist/cli.js "$@"\n' > /usr/local/bin/ipgate \
 && chmod 755 /usr/local/bin/ipgate

WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist

# The files stay owned by root: the service cannot change its own code.
USER node
EXPOSE 8080

# Liveness only (/healthz needs no Redis), with Node's fetch since the image has no curl or
# wget. `||` rather than `??`: an empty PORT means the default, as in ipgate's config.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((res) => process.exit(res.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["/sbin/tini", "--"]
# The same command as `npm start`. The two V8 flags keep the young generation small and let
# the heap grow only 10 % past what is live before a full collection, so the resident size
# stays flat on a host with plenty of memory (docs/performance.md).
CMD ["node", "--max-semi-space-size=8", "--heap-growing-percent=10", "dist/main.js"]
