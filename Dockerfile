# One image, both entry points:
#   controller: node controller/dist/main.js     proxy: node proxy/dist/main.js
# Stages: build (all dependencies, tsc), prod (the same tree pruned to production dependencies),
# runtime (production node_modules and dist/ only).
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.base.json tsconfig.json ./
COPY api/package.json api/
COPY proxy/package.json proxy/
COPY controller/package.json controller/
COPY cli/package.json cli/
COPY test/package.json test/
COPY e2e/package.json e2e/
COPY bench/package.json bench/
RUN npm ci --no-audit --no-fund
COPY api api
COPY proxy proxy
COPY controller controller
COPY cli cli
RUN npx tsc -b api proxy controller cli

FROM build AS prod
RUN npm prune --omit=dev --no-audit --no-fund

FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=prod /src/node_modules node_modules
COPY --from=build /src/api/package.json api/package.json
COPY --from=build /src/api/dist api/dist
COPY --from=build /src/proxy/package.json proxy/package.json
COPY --from=build /src/proxy/dist proxy/dist
COPY --from=build /src/controller/package.json controller/package.json
COPY --from=build /src/controller/dist controller/dist
COPY --from=build /src/cli/package.json cli/package.json
COPY --from=build /src/cli/dist cli/dist
# Non-root (the chart runs it as 10101 too).
USER 10101:10101
ENTRYPOINT []
CMD ["node", "proxy/dist/main.js"]
