/**
 * V8 heap limits the API process runs with (scripts/start.ts, the Dockerfile, docker-compose.yml
 * and the benchmark's API process all use these).
 *
 * The API's live heap is about 40 MB. Capture streams documents of tens of megabytes through it, and
 * with V8's defaults the garbage of several documents piles up in the old generation before a full
 * collection: the process's RSS climbed past 300 MB during a million-unit capture. With a smaller
 * young generation and an old-generation ceiling, collection keeps pace and the peak stays under
 * 200 MB, for a few percent more time in the collector (bench/NOTES.md). The ceiling is several
 * times the live heap, so one large request (an evidence PDF, a long history) still has room.
 */
export const API_HEAP_FLAGS = ['--max-semi-space-size=8', '--max-old-space-size=192'] as const;
