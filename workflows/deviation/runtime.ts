import { condition, patched, proxyActivities, proxyLocalActivities, workflowInfo, type ActivityInterfaceFor } from '@temporalio/workflow';
import type { ResolvedPolicy } from '../../domain/policy';
import type * as activities from '../activity-contracts';
import { nowIso } from '../clocks';
import { REFUSAL, type StepResult } from '../messages';
import { refuse } from '../refusals';
import { slowTaskQueueOf } from '../task-queues';
import type { DeviationInput, DeviationState, InvestigationRound, Stage } from '../types';
import { initialState, snapshotOf } from './state';

export const act = proxyActivities<
  activities.ReadModelActivities &
    activities.HoldActivities &
    activities.NotificationActivities &
    activities.InvestigationSupportActivities &
    activities.SignatureActivities
>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});
export const reconciliation = proxyActivities<activities.ReconciliationActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', maximumInterval: '2 minutes' },
});

/**
 * Containment's first writes (the holds and the alert) and the read model's snapshots, as local
 * activities: the worker running the workflow task runs them at once, with no task queue between
 * detection and the hold, or between a change and the list that shows it, for a backlog to form
 * in; and with no activity task, and no workflow task for its result, to add to a burst. Each is
 * one short, idempotent transaction (a retry finds the rows it wrote; an older snapshot never
 * overwrites a newer one), so a worker lost mid-write and the task run again has the effect of one
 * call. Notifications too (from `patched('local-activities-in-turn')`): one outbox row and its
 * audit entry, and a deviation chased for months sends hundreds of them, each of which as an
 * activity cost three history events and a workflow task more than as a marker.
 *
 * A deviation runs them one at a time (Deviation.urgent, from the same patch). Replay cannot
 * reproduce the order in which local activities running side by side finished: a workflow task that
 * starts late (a burst) finds the holds, a reminder already due and a snapshot all in flight at
 * once, and whichever finished first decided what the code scheduled next. Replayed after the
 * deviation left the worker's cache, the code then scheduled in another order than the history
 * records, and the deviation stopped on a nondeterminism error. In turn, each finishes before the
 * next starts, so the order is the code's own.
 */
export const urgent = proxyLocalActivities<
  Pick<activities.HoldActivities, 'placeHoldsAndAlert'> & activities.ReadModelActivities & activities.NotificationActivities
>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/**
 * What reads or computes over serialization data, on the slow task queue (task-queues.ts): a
 * backlog of these, this deviation's or others', never delays a hold, an alert or a read-model
 * write. Built per call, since the queue is named after the workflow's own.
 */
export function slowActivities(): {
  support: ActivityInterfaceFor<activities.InvestigationSupportActivities>;
  reconciliation: ActivityInterfaceFor<activities.ReconciliationActivities>;
} {
  const taskQueue = slowTaskQueueOf(workflowInfo().taskQueue);
  return {
    support: proxyActivities<activities.InvestigationSupportActivities>({
      taskQueue,
      startToCloseTimeout: '2 minutes',
      retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
    }),
    reconciliation: proxyActivities<activities.ReconciliationActivities>({
      taskQueue,
      startToCloseTimeout: '30 minutes',
      heartbeatTimeout: '2 minutes',
      retry: { initialInterval: '2 seconds', maximumInterval: '2 minutes' },
    }),
  };
}

/** Raised inside the workflow when a QA lead cancels the deviation; caught at the top. */
export class DeviationCancelled extends Error {}

/** One running deviation: its state, and what every part of the workflow does with it. */
export interface Deviation {
  readonly state: DeviationState;
  readonly policy: ResolvedPolicy;
  /**
   * `patched('holds-first')`, decided once as the deviation starts: holds and the alert first, the
   * read model through local activities. False for deviations started before it, which replay as
   * they ran: recurrence search first, snapshots through activities.
   */
  readonly holdsFirst: boolean;
  /** The local activities of this deviation: one at a time, or (started before that) side by side. */
  readonly urgent: typeof urgent;
  /** Every change bumps the version; the read model keeps only the newest. */
  changed(): void;
  moveTo(to: Stage, by: string, reason: string): void;
  /** An outbox notification, once per key however often the workflow retries. */
  notify(key: string, kind: string, recipients: string[], subject: string, body?: Record<string, unknown>): Promise<void>;
  /** What notify() writes to the outbox, for an activity that writes it together with its own work. */
  notification(
    key: string,
    kind: string,
    recipients: string[],
    subject: string,
    body?: Record<string, unknown>,
  ): activities.OutboxNotification;
  cancelled(): boolean;
  /** Waits for a step of the lifecycle; a cancellation ends the wait and the lifecycle. */
  waitFor(done: () => boolean): Promise<void>;
  currentRound(): InvestigationRound | undefined;
  roundOrRefuse(): InvestigationRound;
  /** What an accepted step answers (see StepResult: never the whole state). */
  stepResult(): StepResult;
  /** Resolves once the read model holds the latest version. */
  published(): Promise<void>;
  /** What handlers and the lifecycle tell each other beyond the state. */
  flags: {
    /** A cancellation is accepted and its signature being recorded. */
    cancelling: boolean;
    /** Effectiveness could not be evaluated on data; QA decides. */
    awaitingEffectivenessDecision: boolean;
    /** The effectiveness verification was rejected, with this reason. */
    effectivenessRejected: string | null;
  };
}

/** The deviation's state and the publisher that keeps the read model current. */
export function startDeviation(input: DeviationInput): Deviation {
  const holdsFirst = patched('holds-first');
  // Decided once as the deviation starts, like holds first: deviations started before it replay
  // their notifications as activities and their local activities side by side.
  const inTurn = patched('local-activities-in-turn');
  const local = inTurn ? oneAtATime(urgent) : urgent;
  const state = initialState(input);
  let published = 0;
  const changed = () => {
    state.version += 1;
  };
  // One publisher keeps the read model current; a retried or late write never overwrites a newer version.
  void (async () => {
    for (;;) {
      await condition(() => state.version > published);
      const version = state.version;
      await (holdsFirst ? local : act).recordDeviationSnapshot(snapshotOf(state));
      published = version;
    }
  })();
  const notification = (
    key: string,
    kind: string,
    recipients: string[],
    subject: string,
    body: Record<string, unknown>,
  ): activities.OutboxNotification => ({
    dedupeKey: `${state.id}:${key}`,
    deviationId: state.id,
    kind,
    recipients,
    subject,
    body: { deviation: state.id, title: state.title, ...body },
  });
  const cancelled = () => Boolean(state.cancellation);
  const currentRound = (): InvestigationRound | undefined => state.rounds[state.rounds.length - 1];
  return {
    state,
    policy: input.policy,
    holdsFirst,
    urgent: local,
    changed,
    moveTo(to, by, reason) {
      state.transitions.push({ from: state.stage, to, at: nowIso(), by, reason });
      state.stage = to;
      changed();
    },
    notify: (key, kind, recipients, subject, body = {}) =>
      (inTurn ? local : act).notify(notification(key, kind, recipients, subject, body)),
    notification: (key, kind, recipients, subject, body = {}) => notification(key, kind, recipients, subject, body),
    cancelled,
    async waitFor(done) {
      await condition(() => done() || cancelled());
      if (cancelled()) throw new DeviationCancelled();
    },
    currentRound,
    roundOrRefuse: () => currentRound() ?? refuse(REFUSAL.stage, 'no investigation round is open'),
    stepResult: () => ({ id: state.id, stage: state.stage, version: state.version }),
    published: () => condition(() => published === state.version),
    flags: { cancelling: false, awaitingEffectivenessDecision: false, effectivenessRejected: null },
  };
}

/** The same activities, each call waiting until the one before it has finished (failed or not). */
function oneAtATime<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  let previous: Promise<unknown> = Promise.resolve();
  return new Proxy(activities, {
    get(target, name: string) {
      const activity = target[name];
      if (typeof activity !== 'function') return activity;
      return (...args: never[]) => {
        const call = previous.then(() => activity(...args));
        previous = call.catch(() => undefined);
        return call;
      };
    },
  });
}
