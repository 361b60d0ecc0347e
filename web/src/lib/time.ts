/** Times: the viewer's zone on screen, UTC on hover, UTC in every signed record. */
const pad = (n: number) => String(n).padStart(2, '0');

export function utc(iso: string | Date): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}

export function local(iso: string | Date): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, {
    year: 'numeric',
    month: 'short',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}

export const label = (code: string) => code.replace(/_/g, ' ');
export const capitalised = (code: string) => {
  const l = label(code);
  return l.charAt(0).toUpperCase() + l.slice(1);
};
