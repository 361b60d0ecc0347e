# One image for both processes; docker-compose.yml picks the entry point per service.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --loglevel=error
COPY . .
USER node
EXPOSE 3000
# Heap flags: api/heap.ts says why.
CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=192", "--import", "tsx", "api/main.ts"]
