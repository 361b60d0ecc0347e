import type { MonitoringSignalRecord } from '../types';
import type { Deviation } from './runtime';

/** How many linked signals travel in the workflow's state; every one of them stays in monitoring_signals. */
const SIGNALS_IN_STATE = 100;

/**
 * The monitoring signal's handler: a recurrence found by a line monitor, kept on the deviation
 * people already work on. It calls no activity and starts no timer, so the commands of every
 * history recorded before the signal existed stay as they were. A signal told again (the monitor
 * may repeat it after a restart) is kept once, by its key. It never throws: a signal cannot be
 * refused, and a handler that failed would fail the workflow task again on every retry.
 */
export function recordMonitoringSignal(d: Deviation, signal: MonitoringSignalRecord): void {
  if (!isSignalRecord(signal)) return;
  const { state } = d;
  const known = (state.monitoringSignals ??= []);
  if (known.some((s) => s.key === signal.key) || state.detection?.key === signal.key) return;
  if (known.length < SIGNALS_IN_STATE) known.push(signal);
  // (past the bound, the keys kept cannot tell a new signal from one told again: the flag says there are more)
  else if (state.monitoringSignalsTruncated) return;
  else state.monitoringSignalsTruncated = true;
  d.changed();
}

const isSignalRecord = (s: unknown): s is MonitoringSignalRecord =>
  typeof s === 'object' &&
  s !== null &&
  typeof (s as MonitoringSignalRecord).key === 'string' &&
  typeof (s as MonitoringSignalRecord).signal === 'string' &&
  typeof (s as MonitoringSignalRecord).lot === 'string';
