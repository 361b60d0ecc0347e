/**
 * How often something overdue is chased. Reminders go out at the policy's interval; after the
 * third, the head of QA is told (the escalation) and from then on the item is on their list, so
 * the reminders slow to the policy's escalated interval: a CAPA action left open for months under
 * a daily policy would otherwise send hundreds of reminders nobody reads, and each one lengthens
 * the deviation's history, which Temporal caps.
 */
export const REMINDERS_BEFORE_ESCALATION = 3;

/** The wait before the next overdue reminder, once `sent` have gone out. */
export function nextOverdueReminderInMs(sent: number, intervalMs: number, escalatedIntervalMs: number = intervalMs): number {
  return sent < REMINDERS_BEFORE_ESCALATION ? intervalMs : escalatedIntervalMs;
}

/** How many overdue reminders have gone out `overdueMs` after the due date. */
export function overdueRemindersWithin(overdueMs: number, intervalMs: number, escalatedIntervalMs: number = intervalMs): number {
  let sent = 0;
  for (let at = intervalMs; at <= overdueMs; at += nextOverdueReminderInMs(sent, intervalMs, escalatedIntervalMs)) sent += 1;
  return sent;
}
