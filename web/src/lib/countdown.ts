/**
 * A deadline as a person reads it: time left to the second, or how late it is. Pure, so the
 * component tests drive it with any clock.
 */
export interface CountdownState {
  overdue: boolean;
  /** Whole seconds left (negative when overdue). */
  seconds: number;
  /** `mm:ss` under an hour, `h:mm:ss` under a day, `Nd hh:mm:ss` beyond. */
  text: string;
  /** What a screen reader and the title say: "7 minutes 3 seconds left" / "overdue by 12 seconds". */
  spoken: string;
  /** How close: 'ok', 'soon' (under a quarter of an hour, or under 25 % of `total` when given), 'overdue'. */
  urgency: 'ok' | 'soon' | 'overdue';
}

const pad = (n: number) => String(n).padStart(2, '0');

export function formatDuration(totalSeconds: number): string {
  const s = Math.abs(totalSeconds);
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const seconds = s % 60;
  if (days > 0) return `${days}d ${pad(hours)}:${pad(minutes)}:${pad(seconds)}`;
  if (hours > 0) return `${hours}:${pad(minutes)}:${pad(seconds)}`;
  return `${pad(minutes)}:${pad(seconds)}`;
}

function spokenDuration(totalSeconds: number): string {
  const s = Math.abs(totalSeconds);
  const parts: Array<[number, string]> = [
    [Math.floor(s / 86_400), 'day'],
    [Math.floor((s % 86_400) / 3600), 'hour'],
    [Math.floor((s % 3600) / 60), 'minute'],
    [s % 60, 'second'],
  ];
  const said = parts
    .filter(([n]) => n > 0)
    .slice(0, 2)
    .map(([n, unit]) => `${n} ${unit}${n === 1 ? '' : 's'}`);
  return said.length ? said.join(' ') : '0 seconds';
}

export function countdown(dueAt: string | number | Date, now: number, totalMs?: number): CountdownState {
  const due = new Date(dueAt).getTime();
  // Floor towards the past: at 0.4 s left it says 00:00 left, at 0.4 s late it says overdue by 00:01.
  const seconds = due >= now ? Math.floor((due - now) / 1000) : -Math.ceil((now - due) / 1000);
  const overdue = due < now;
  const soonLimit = totalMs !== undefined ? Math.min(totalMs / 4, 15 * 60_000) : 15 * 60_000;
  const urgency = overdue ? 'overdue' : due - now <= soonLimit ? 'soon' : 'ok';
  return {
    overdue,
    seconds,
    text: overdue ? `overdue ${formatDuration(seconds)}` : formatDuration(seconds),
    spoken: overdue ? `overdue by ${spokenDuration(seconds)}` : `${spokenDuration(seconds)} left`,
    urgency,
  };
}
