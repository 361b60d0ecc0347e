import { patched } from '@temporalio/workflow';
import { nextOverdueReminderInMs, REMINDERS_BEFORE_ESCALATION } from '../../domain/overdue-reminders';
import { humanDuration, nowIso, runClock } from '../clocks';
import type { Deadline, RegulatoryNotificationStep } from '../types';
import type { Deviation } from './runtime';
import { isTerminal } from './state';

/** A due date on record (GET /deviations/:id lists them with their reminders and escalation). */
function addDeadline(d: Deviation, deadline: Omit<Deadline, 'overdue' | 'reminders' | 'escalated'>): Deadline {
  const entry: Deadline = { ...deadline, overdue: false, reminders: 0, escalated: false };
  d.state.deadlines.push(entry);
  d.changed();
  return entry;
}

/**
 * Watches one due date: a reminder before it, the overdue flag, reminders at the policy
 * interval, escalation to the backup role. An approved extension moves the due date and the
 * watch starts over from the new one.
 */
export async function watchDeadline(
  d: Deviation,
  spec: Omit<Deadline, 'overdue' | 'reminders' | 'escalated'>,
  isMet: () => boolean,
  recipients: string[],
): Promise<void> {
  const deadline = addDeadline(d, spec);
  const interval = d.policy.overdueReminderIntervalMs;
  const escalatedInterval = d.policy.escalatedReminderIntervalMs;
  await runClock({
    done: () => isMet() || isTerminal(d.state) || d.cancelled(),
    dueMs: () => Date.parse(deadline.dueAt),
    before: {
      // Added after the first release: deviations started before it replay without this reminder.
      atMs: (due) => (patched('reminder-before-due') ? [due - interval] : []),
      skipPast: true,
      // (the hooks run while the due date is the one the clock waits for, so deadline.dueAt is it)
      remind: () =>
        d.notify(`${deadline.key}:due-soon:${deadline.dueAt}`, 'due_soon', recipients, `${deadline.label} is due ${deadline.dueAt}`, {
          dueAt: deadline.dueAt,
        }),
    },
    due: async () => {
      deadline.overdue = true;
      d.changed();
      await d.notify(`${deadline.key}:overdue`, 'overdue', recipients, `${deadline.label} is overdue`, { dueAt: deadline.dueAt });
    },
    overdue: {
      nextInMs: () => nextOverdueReminderInMs(deadline.reminders, interval, escalatedInterval),
      remind: async () => {
        deadline.reminders += 1;
        d.changed();
        await d.notify(
          `${deadline.key}:reminder:${deadline.reminders}`,
          'overdue_reminder',
          recipients,
          `Reminder ${deadline.reminders}: ${deadline.label} is overdue`,
          { dueAt: deadline.dueAt },
        );
        if (deadline.reminders === REMINDERS_BEFORE_ESCALATION) {
          deadline.escalated = true;
          d.changed();
          await d.notify(
            `${deadline.key}:escalation`,
            'escalation',
            ['role:qa_head'],
            `Escalation: ${deadline.label} still overdue after ${deadline.reminders} reminders`,
            { dueAt: deadline.dueAt },
          );
        }
      },
    },
    // Extended while overdue: no longer overdue until the new date passes.
    moved: () => {
      deadline.overdue = false;
      d.changed();
    },
  });
  if (isMet()) {
    deadline.metAt = nowIso();
    d.changed();
  }
}

/** The 60-minute containment clock: reminders at the policy's offsets from detection, then an SLA breach. */
export async function containmentClock(d: Deviation): Promise<void> {
  const { state, policy } = d;
  const c = state.containment;
  const detectedMs = Date.parse(state.detectedAt);
  const deadline = addDeadline(d, { key: 'containment', label: 'Containment confirmation', dueAt: c.dueAt });
  await runClock({
    done: () => Boolean(c.confirmation) || d.cancelled(),
    dueMs: () => detectedMs + policy.containmentWindowMs,
    before: {
      atMs: () => policy.containmentRemindersMs.map((offset) => detectedMs + offset),
      skipPast: false,
      remind: async (n) => {
        c.remindersSent += 1;
        deadline.reminders = c.remindersSent;
        d.changed();
        const left = humanDuration(Math.max(0, policy.containmentWindowMs - policy.containmentRemindersMs[n - 1]!));
        await d.notify(
          `containment:reminder:${c.remindersSent}`,
          'containment_reminder',
          ['role:qa_lead', state.reportedBy],
          `Containment of ${state.id} is not confirmed: ${left} left`,
          { dueAt: c.dueAt },
        );
      },
    },
    due: async () => {
      const at = nowIso();
      c.escalatedAt = at;
      c.slaBreachedAt = at;
      deadline.overdue = true;
      deadline.escalated = true;
      state.slaBreaches.push({ clock: 'containment', at });
      d.changed();
      await d.notify(
        'containment:escalation',
        'escalation',
        ['role:qa_head', 'role:qa_lead'],
        `SLA breach: containment of ${state.id} not confirmed within ${humanDuration(policy.containmentWindowMs)}`,
        { dueAt: c.dueAt },
      );
    },
  });
  if (c.confirmation) {
    deadline.metAt = c.confirmation.at;
    d.changed();
  }
}

/** A regulatory notification's clock (DSCSA illegitimate / EU FMD suspected falsified): reminders, then an SLA breach. */
export async function regulatoryClock(d: Deviation, step: RegulatoryNotificationStep, index: number): Promise<void> {
  const { state, policy } = d;
  const key = `regulatory:${index + 1}`;
  const deadline = addDeadline(d, { key, label: `Regulatory notification (${step.framework})`, dueAt: step.dueAt });
  const startedMs = Date.parse(step.startedAt);
  await runClock({
    done: () => Boolean(step.completedAt) || isTerminal(state) || d.cancelled(),
    dueMs: () => startedMs + policy.regulatoryNotificationWindowMs,
    before: {
      atMs: () => policy.regulatoryRemindersMs.map((offset) => startedMs + offset),
      skipPast: false,
      remind: async (n) => {
        deadline.reminders = n;
        d.changed();
        await d.notify(
          `${key}:reminder:${n}`,
          'regulatory_reminder',
          ['role:qa_head', 'role:qa_lead'],
          `Regulatory notification for ${state.id} still outstanding`,
          { dueAt: step.dueAt, required: step.required },
        );
      },
    },
    due: async () => {
      const at = nowIso();
      step.escalatedAt = at;
      deadline.overdue = true;
      deadline.escalated = true;
      state.slaBreaches.push({ clock: key, at });
      d.changed();
      await d.notify(
        `${key}:escalation`,
        'escalation',
        ['role:qa_head'],
        `SLA breach: regulatory notification for ${state.id} not completed in time`,
        { dueAt: step.dueAt },
      );
    },
  });
  if (step.completedAt) {
    deadline.metAt = step.completedAt;
    d.changed();
  }
}
