# cartd: the API server and, with `worker`, a staging worker.
#   docker build -t cartd .
#   docker run -p 8081:8081 -v cartd-var:/app/var -e ARCHIVEINTERFACE_URL=http://archive:8080/ cartd -a 0.0.0.0
#   docker run -v cartd-var:/app/var -e REDIS_URL=redis://redis:6379 cartd worker
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
