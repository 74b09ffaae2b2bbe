# cartd: the API server, staging workers (`worker`) and the admin commands (cartd-cmd), one image.
# State is the volume /app/var: the SQLite database /app/var/cartd.sqlite3 and the staged
# files /app/var/volume. Every container of one installation (API, workers, cartd-cmd) must
# mount the same /app/var, so all run on one Docker host: SQLite in WAL mode cannot be shared
# between machines (README, "What must be shared"). Only Redis may be elsewhere.
#
#   docker build -t cartd .
#
# One container, staging in-process (no REDIS_URL, no workers):
#   docker run -d -p 8081:8081 -v cartd-var:/app/var -e ARCHIVEINTERFACE_URL=http://archive:8080/ cartd -a 0.0.0.0
#
# An API and workers: all with the same REDIS_URL and the same /app/var. The API gets
# --no-worker; without REDIS_URL it would stage in-process and the workers would get no job.
# Create the schema once, before the others start (as the README's example on one machine does).
#   docker network create cartd
#   docker run -d --name redis --network cartd redis:7
#   docker run --rm -v cartd-var:/app/var --entrypoint node cartd bin/cartd-cmd dbsync
#   docker run -d --name cartd-api --network cartd -p 8081:8081 -v cartd-var:/app/var \
#     -e ARCHIVEINTERFACE_URL=http://archive:8080/ -e REDIS_URL=redis://redis:6379 cartd -a 0.0.0.0 --no-worker
#   docker run -d --name cartd-worker-1 --network cartd -v cartd-var:/app/var \
#     -e ARCHIVEINTERFACE_URL=http://archive:8080/ -e REDIS_URL=redis://redis:6379 cartd worker
#   docker exec cartd-api node bin/cartd-cmd dump
# (ARCHIVEINTERFACE_URL: the archive as the containers reach it.)
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY tests/support ./tests/support
COPY bench ./bench
COPY migrations ./migrations
COPY bin ./bin
COPY config ./config
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/package.json ./
COPY bin ./bin
COPY migrations ./migrations
COPY config ./config
RUN mkdir -p /app/var && chown node:node /app/var
VOLUME ["/app/var"]
EXPOSE 8081
USER node
ENTRYPOINT ["node", "bin/cartd"]
