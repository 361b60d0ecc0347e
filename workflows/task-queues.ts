/**
 * A deviation's activities travel on two task queues. The workflow's own queue carries its workflow
 * tasks and the short writes it waits on (holds, the outbox, the read model, the signature ledger).
 * The slow queue, named after it, carries what reads or computes over serialization data (recurrence
 * search, shipment trace, reconciliation, effectiveness): seconds to minutes each, and after a bad
 * night on a line, hundreds at once. Apart, a backlog of those can never stand before a hold or an
 * alert of any deviation. The worker process polls both, each with limits of its own
 * (worker/create-worker.ts, docs/scale.md).
 */
export function slowTaskQueueOf(taskQueue: string): string {
  return `${taskQueue}.slow`;
}
