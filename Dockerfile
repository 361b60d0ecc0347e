# One image for both processes; docker-compose.yml picks the entry point per service.

# The web application is built with the dev dependencies (Vite, React), which the runtime image leaves out.
FROM node:20-bookworm-slim AS web
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY . .
RUN node scripts/build-web.mjs --force

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error
COPY . .
COPY --from=web /app/web/dist ./web/dist
USER node
EXPOSE 3000
# Heap flags: api/heap.ts says why.
CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=192", "--import", "tsx", "api/main.ts"]
