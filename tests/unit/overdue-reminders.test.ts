import { nextOverdueReminderInMs, overdueRemindersWithin } from '../../domain/overdue-reminders';
import { PRODUCTION_POLICY, resolvePolicy } from '../../domain/policy';

const DAY = 86_400_000;

describe('overdue reminders slow down once the head of QA has been told', () => {
  it('the first three come at the policy interval, the rest at the escalated one', () => {
    expect([0, 1, 2, 3, 4].map((sent) => nextOverdueReminderInMs(sent, DAY, 7 * DAY))).toEqual([DAY, DAY, DAY, 7 * DAY, 7 * DAY]);
  });

  it('without an escalated interval (deviations started before it) the interval never changes', () => {
    expect(nextOverdueReminderInMs(10, 2 * DAY)).toBe(2 * DAY);
    expect(overdueRemindersWithin(182 * DAY, 2 * DAY)).toBe(91);
  });

  it('an action six months overdue under the production policy is chased about thirty times, whatever its severity', () => {
    const chased = (['critical', 'major', 'minor'] as const).map((severity) => {
      const p = resolvePolicy(PRODUCTION_POLICY, severity);
      return overdueRemindersWithin(182 * DAY, p.overdueReminderIntervalMs, p.escalatedReminderIntervalMs);
    });
    // critical: days 1, 2, 3, then weekly to day 178; major: days 2, 4, 6, then weekly to day 181; minor: weekly.
    expect(chased).toEqual([28, 28, 26]);
  });

  it('nothing is sent before the first interval has passed', () => {
    expect(overdueRemindersWithin(DAY - 1, DAY, 7 * DAY)).toBe(0);
    expect(overdueRemindersWithin(DAY, DAY, 7 * DAY)).toBe(1);
  });
});
