/**
 * A deviation's Temporal history (as `temporal workflow show --output json` writes it) as a
 * readable timeline: what happened, when, who, with signatures, Updates, timers and activities.
 */
export interface TimelineEntry {
  eventId: string;
  at: string;
  kind: 'start' | 'update' | 'signature' | 'timer' | 'activity' | 'child' | 'end' | 'other';
  title: string;
  who?: string;
  detail?: string;
  signature?: { printedName: string; login: string; meaning: string; signedAt: string; recordHash: string };
}

interface RawEvent {
  eventId: string;
  eventTime: string;
  eventType: string;
  [attributes: string]: unknown;
}

function decodePayload(p: unknown): unknown {
  const payload = p as { data?: string } | undefined;
  if (!payload?.data) return undefined;
  try {
    const bytes = Uint8Array.from(atob(payload.data), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

const attrs = (e: RawEvent) => (Object.entries(e).find(([k]) => k.endsWith('EventAttributes'))?.[1] ?? {}) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const words = (camel: string) => camel.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
const seconds = (d: string | undefined) => (d ? d.replace(/s$/, ' s') : '');

export function timeline(events: RawEvent[], withMechanics = false): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  const timers = new Map<string, string>();
  const activities = new Map<string, string>();
  for (const e of events) {
    const a = attrs(e);
    const base = { eventId: e.eventId, at: e.eventTime };
    switch (e.eventType) {
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED': {
        const input = decodePayload(a.input?.payloads?.[0]) as { id?: string; reportedBy?: string; title?: string } | undefined;
        out.push({ ...base, kind: 'start', title: `Opened: ${input?.title ?? a.workflowType?.name ?? ''}`, who: input?.reportedBy });
        break;
      }
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED': {
        const name = String(a.acceptedRequest?.input?.name ?? 'update');
        const arg = decodePayload(a.acceptedRequest?.input?.args?.payloads?.[0]) as Record<string, unknown> | undefined;
        const sig = arg?.signature as TimelineEntry['signature'] | undefined;
        const { by, signature: _s, roles: _r, ...rest } = arg ?? {};
        const detail = Object.entries(rest)
          .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' · ')
          .slice(0, 400);
        out.push({
          ...base,
          kind: sig ? 'signature' : 'update',
          title: words(name),
          who: typeof by === 'string' ? by : sig?.login,
          detail,
          signature: sig,
        });
        break;
      }
      case 'EVENT_TYPE_TIMER_STARTED':
        timers.set(String(a.timerId), seconds(a.startToFireTimeout));
        if (withMechanics) out.push({ ...base, kind: 'timer', title: `Timer ${a.timerId} started (${seconds(a.startToFireTimeout)})` });
        break;
      case 'EVENT_TYPE_TIMER_FIRED':
        out.push({ ...base, kind: 'timer', title: `Timer fired (${timers.get(String(a.timerId)) ?? a.timerId})` });
        break;
      case 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED':
        activities.set(e.eventId, String(a.activityType?.name ?? 'activity'));
        break;
      case 'EVENT_TYPE_ACTIVITY_TASK_COMPLETED':
        // The read model's snapshot after every change: bookkeeping, shown with the mechanics only.
        if (!withMechanics && activities.get(String(a.scheduledEventId)) === 'recordDeviationSnapshot') break;
        out.push({ ...base, kind: 'activity', title: `Activity completed: ${words(activities.get(String(a.scheduledEventId)) ?? '?')}` });
        break;
      case 'EVENT_TYPE_ACTIVITY_TASK_FAILED':
        out.push({
          ...base,
          kind: 'activity',
          title: `Activity failed: ${words(activities.get(String(a.scheduledEventId)) ?? '?')}`,
          detail: a.failure?.message,
        });
        break;
      case 'EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED':
        out.push({ ...base, kind: 'child', title: `Child workflow started: ${a.workflowId ?? ''}` });
        break;
      case 'EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED':
        out.push({ ...base, kind: 'child', title: `Child workflow completed: ${a.workflowExecution?.workflowId ?? ''}` });
        break;
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED':
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW':
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_FAILED':
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED':
        out.push({
          ...base,
          kind: 'end',
          title: words(
            e.eventType
              .replace('EVENT_TYPE_WORKFLOW_EXECUTION_', '')
              .toLowerCase()
              .replace(/_(\w)/g, (_m, c: string) => c.toUpperCase()),
          ),
        });
        break;
      default:
        if (withMechanics && !e.eventType.includes('WORKFLOW_TASK'))
          out.push({ ...base, kind: 'other', title: e.eventType.replace('EVENT_TYPE_', '').toLowerCase().replace(/_/g, ' ') });
    }
  }
  return out;
}
