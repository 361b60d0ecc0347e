/** When the next round runs: at once, after so many milliseconds, or only once asked (`now()`). */
export type NextRound = { atOnce: true } | { afterMs: number } | { whenAsked: true };

export const AT_ONCE: NextRound = { atOnce: true };
export const WHEN_ASKED: NextRound = { whenAsked: true };
export const after = (ms: number): NextRound => ({ afterMs: ms });

export interface BackgroundRounds {
  /** Runs a round as soon as the one in progress, if any, has finished. */
  now(): void;
  /** No further round; resolves once the one in progress has finished. */
  stop(): Promise<void>;
}

export interface RoundOptions {
  /** True once the process is shutting down (its pool ending): no further round, and no error logged. */
  ending(): boolean;
  /** A round that threw: logged (unless ending), then the next one after `afterFailureMs`. */
  onFailure(err: unknown): void;
  afterFailureMs: number;
}

/**
 * Runs `round` again and again until stopped, each round saying when the next is due. The outboxes
 * of the API and the worker (webhook subscriptions, hold breaches, EMVS alert claims) are delivered
 * this way: whatever a round leaves undelivered waits in the database, so a round may fail, a process
 * may stop between rounds, and another process's rounds pick up the rest. Waits are unref'd: a
 * pending round never keeps a process alive that has nothing else to do.
 */
export function startRounds(round: () => Promise<NextRound>, options: RoundOptions): BackgroundRounds {
  let stopped = false;
  let asked = false;
  let wake: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;

  const loop = async () => {
    while (!stopped && !options.ending()) {
      asked = false;
      let next: NextRound;
      try {
        next = await round();
      } catch (err) {
        if (!options.ending()) options.onFailure(err);
        next = after(options.afterFailureMs);
      }
      if ('atOnce' in next || asked || stopped) continue;
      await new Promise<void>((resolve) => {
        wake = resolve;
        if ('afterMs' in next) timer = setTimeout(resolve, next.afterMs).unref();
      });
      wake = undefined;
      clearTimeout(timer);
    }
  };
  const running = loop();

  return {
    now() {
      asked = true;
      wake?.();
    },
    async stop() {
      stopped = true;
      wake?.();
      await running;
    },
  };
}
