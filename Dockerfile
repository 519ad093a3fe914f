# Notification service image.
#   docker build -t notification-service .
#   docker run --rm -p 3000:3000 notification-service
# Configuration is by environment (PORT, HOST, HTTPS, TLS_CERT, TLS_KEY, TRANSPORTS,
# MAX_PAYLOAD, CORS_ORIGIN, LOG_LEVEL, LOG_FORMAT; cluster mode: REDIS_URL, PRESENCE_TTL,
# REDIS_PREFIX; history and stored messages: HISTORY_SIZE, HISTORY_TTL, RECOVERY_WINDOW, DATA_DIR,
# DATABASE_URL, RETENTION) or by flags appended to the command. Stored messages (SQLite) live in
# /app/data: mount a volume there to keep them (-v notify-data:/app/data), or use DATABASE_URL.

# Node.js 24 (LTS, supported until April 2028; Node 22 ends in April 2027). From 24.15 its built-in
# node:sqlite is stable enough to load without a warning, so the image needs no compiler and
# downloads no binary (better-sqlite3 is left out; bufferutil's prebuilt binaries come inside its npm
# package). The checks in the runtime stage fail the build on an older Node or a missing binary.
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: all dependencies (TypeScript, @types) and `npm run build` into dist/
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Manifests first: the dependency layer stays cached until they change.
COPY package.json package-lock.json ./
# --omit=optional: better-sqlite3 (the SQLite driver for Node 20/22) is neither built nor needed.
RUN npm ci --omit=optional --no-audit --no-fund
# Sources; .dockerignore keeps out node_modules, dist, tests, bench, certs and deploy files.
COPY . .
RUN npm run build

# ---- deps: production dependencies only, installed clean from the lock file
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional also drops bufferutil (ws's native WebSocket unmasking: a 4 MB frame in ~0.2 ms
# instead of ~25 ms of JavaScript). It ships prebuilt binaries in its package (nothing to compile
# or download): added back at its locked version, scripts off.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund \
 && BUFFERUTIL=$(node -p "require('./package-lock.json').packages['node_modules/bufferutil'].version") \
 && mkdir /tmp/bufferutil && cd /tmp/bufferutil && npm init -y >/dev/null \
 && npm install --no-audit --no-fund --ignore-scripts "bufferutil@${BUFFERUTIL}" \
 && cp -r node_modules/bufferutil node_modules/node-gyp-build /app/node_modules/ \
 && rm -rf /tmp/bufferutil

# ---- runtime
FROM ${NODE_IMAGE} AS runtime
# tini runs as PID 1: it forwards SIGTERM/SIGINT to node (which then shuts down gracefully)
# and reaps zombie processes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
# Set only here: NODE_ENV=production in the build stage would make `npm ci` skip devDependencies.
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0 \
    LOG_FORMAT=json
WORKDIR /app
# Application files stay root-owned, so the app user cannot modify them.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The admin page's files (plain HTML, CSS, ES modules: served as they are, read from here by dist/lib/admin/static.js).
COPY --from=build /app/lib/admin/static ./lib/admin/static
# Needed at run time: "type": "module" for dist/*.js, and the version for --version.
COPY package.json ./
# The message store must run on node:sqlite here (there is no better-sqlite3 in the image).
RUN node --input-type=module -e "import { defaultSqliteDriver, sqliteDriverProblem } from './dist/lib/storage/sqlite-driver.js'; \
if (defaultSqliteDriver() !== 'node:sqlite' || sqliteDriverProblem('node:sqlite')) throw new Error('node:sqlite needs Node.js 24.15+, this is ' + process.version)"
# ws unmasks natively where bufferutil has a prebuilt binary (x64); elsewhere it falls back to JavaScript.
RUN node -e "const u=require('bufferutil').unmask; if (process.arch==='x64' && !String(u).includes('[native code]')) throw new Error('bufferutil did not load its prebuilt binary')"
# The writable directories: with HTTPS=true and no TLS_CERT/TLS_KEY the service writes a
# self-signed certificate to ./certs; stored messages go to ./data (relative to /app).
RUN mkdir certs data && chown node:node certs data
# The unprivileged user of the official Node image (uid 1000).
USER node
EXPOSE 3000
# Uses node, as the slim image has no curl/wget. Speaks HTTPS when HTTPS/TLS_CERT enable it
# (accepting a self-signed certificate), HTTP otherwise; PORT as configured.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD node -e "const tls=['1','true','yes','on'].includes(String(process.env.HTTPS).trim().toLowerCase())||!!process.env.TLS_CERT; \
require(tls?'https':'http').get({host:'127.0.0.1',port:process.env.PORT||3000,path:'/healthcheck',timeout:4000,rejectUnauthorized:false},(r)=>process.exit(r.statusCode===200?0:1)) \
.on('timeout',()=>process.exit(1)).on('error',()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/server.js"]
