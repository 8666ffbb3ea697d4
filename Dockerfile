# facepipe images: the gateway and the three workers (CPU). The CUDA embedder is Dockerfile.cuda.
#
# One build, one target per app. All four targets share every layer of the `runtime` stage (the same
# node_modules and dist/), so four tags cost the disk and registry space of one image; each target
# only adds its own CMD, metrics port and HEALTHCHECK (a per-app target rather than one image with
# an app switch, so `docker run facepipe/detector-worker` needs no extra argument and the health
# check always probes the right port):
#
#   docker build --target gateway         -t facepipe/gateway .
#   docker build --target detector-worker -t facepipe/detector-worker .
#   docker build --target embedder-worker -t facepipe/embedder-worker .
#   docker build --target matcher-worker  -t facepipe/matcher-worker .
#   docker build -t facepipe/app .        # no --target: the last stage, the gateway
#
# The models ship inside npm packages (faceplugin-face-recognition-js, a production dependency), so
# `npm ci` brings them; nothing is downloaded at run time. sharp and onnxruntime-node carry prebuilt
# linux-x64 glibc binaries, which is why the base is Debian bookworm (glibc), not Alpine (musl).

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- builder: install everything, build dist/, then drop the dev dependencies -----------------
FROM ${NODE_IMAGE} AS builder
WORKDIR /app
ENV CI=true NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false
# package.json's `allowScripts` denies every dependency install script (onnxruntime-node's among
# them; .npmrc also says onnxruntime-node-install=skip, the CPU build). npm 11 honours that field;
# the npm bundled with Node 20 (10.x) does not know it, so --ignore-scripts gives both npm versions
# the same result. It also skips our own `prepare` (= npm run build), which runs explicitly below.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json nx.json ./
COPY tools ./tools
COPY libs ./libs
COPY apps ./apps
COPY bench ./bench
COPY bin ./bin
# The build needs dev dependencies (esbuild, @swc/core): prune only after it. Then drop what the
# images never run (benchmarks, the demo, which needs a dev dependency) and the other platforms'
# native binaries of onnxruntime-node and usearch (about 250 MB).
RUN npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf dist/bench dist/apps/demo \
 && plat="$(node -p 'process.platform')/$(node -p 'process.arch')" \
 && find node_modules/onnxruntime-node/bin/napi-v6 -mindepth 2 -maxdepth 2 -type d ! -path "*/$plat" -exec rm -rf {} + \
 && find node_modules/usearch/prebuilds -mindepth 1 -maxdepth 1 -type d ! -name "$(node -p 'process.platform')-*" -exec rm -rf {} +

# ---- runtime: production node_modules + dist, non-root ------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# NODE_ENV=production; HOST=0.0.0.0 so probes and Prometheus reach the HTTP servers (the gateway
# then refuses to start without FACEPIPE_API_KEY, by design); data (blobs, embedded index) in /data.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    FACEPIPE_DATA_DIR=/data \
    FACEPIPE_HEALTH_PORT=3000
WORKDIR /app
COPY --from=builder --chown=root:root /app/package.json ./package.json
COPY --from=builder --chown=root:root /app/node_modules ./node_modules
COPY --from=builder --chown=root:root /app/dist ./dist
# /data belongs to `node` (uid 1000 in the official image): a fresh named volume mounted there
# inherits that ownership. The code itself stays root-owned and read-only to the process.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
# /healthz via node's http module (slim images have no curl/wget). Port: FACEPIPE_HEALTH_PORT,
# set per target below (gateway PORT / worker FACEPIPE_METRICS_PORT).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "require('http').get({host:'127.0.0.1',port:process.env.FACEPIPE_HEALTH_PORT,path:'/healthz',timeout:4000},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]
STOPSIGNAL SIGTERM

FROM runtime AS detector-worker
ENV FACEPIPE_METRICS_PORT=9101 FACEPIPE_HEALTH_PORT=9101
EXPOSE 9101
CMD ["node", "dist/apps/detector-worker/main.js"]

FROM runtime AS embedder-worker
ENV FACEPIPE_METRICS_PORT=9102 FACEPIPE_HEALTH_PORT=9102
EXPOSE 9102
CMD ["node", "dist/apps/embedder-worker/main.js"]

FROM runtime AS matcher-worker
ENV FACEPIPE_METRICS_PORT=9103 FACEPIPE_HEALTH_PORT=9103
EXPOSE 9103
CMD ["node", "dist/apps/matcher-worker/main.js"]

# Last, so that a build without --target produces the gateway.
FROM runtime AS gateway
ENV PORT=3000 FACEPIPE_HEALTH_PORT=3000
EXPOSE 3000
CMD ["node", "dist/apps/gateway/main.js"]
