import path from 'node:path';
import { temporal } from '@temporalio/proto';
import type { History } from '@temporalio/common/lib/proto-utils';

export type { History };

/**
 * Proto3 JSON for workflow histories, the form `temporal workflow show --output json
 * --no-json-shorthand-payloads` prints and every SDK's replayer reads.
 *
 * Why not @temporalio/common's historyToJSON/historyFromJSON: in this install @temporalio/common
 * and @temporalio/proto each carry their own copy of protobufjs, and protojson's `instanceof Type`
 * check fails across copies ("type must be a Type"). So the ProtoJSON extension is loaded from
 * the copy @temporalio/proto itself uses, and types are looked up in that same root.
 */
interface ProtoJsonModule {
  toJson(type: unknown, message: unknown, options?: object): unknown;
  fromJson(type: unknown, json: unknown, options?: object): unknown;
}
interface ProtoRoot {
  lookupType(name: string): unknown;
}

let loaded: { protojson: ProtoJsonModule; historyType: unknown } | undefined;

function load(): NonNullable<typeof loaded> {
  if (loaded) return loaded;
  const protoDir = path.dirname(require.resolve('@temporalio/proto/package.json'));
  const protojson = require(require.resolve('protobufjs/ext/protojson', { paths: [protoDir] })) as ProtoJsonModule;
  const { patchProtobufRoot } = require('@temporalio/proto/lib/patch-protobuf-root') as { patchProtobufRoot(root: unknown): ProtoRoot };
  const root = patchProtobufRoot(require('@temporalio/proto'));
  loaded = { protojson, historyType: root.lookupType('temporal.api.history.v1.History') };
  return loaded;
}

/** A History (as the client's fetchHistory returns it) as a proto3 JSON object. */
export function historyToJsonObject(history: History): HistoryJson {
  const { protojson, historyType } = load();
  return withMapsInKeyOrder(protojson.toJson(historyType, temporal.api.history.v1.History.fromObject(history))) as HistoryJson;
}

/**
 * Proto map fields of a history: a marker's details (a local activity's marker holds "data" and
 * "result"), headers, memos, search attributes, a payload's metadata.
 */
const MAP_FIELDS = new Set(['details', 'fields', 'indexedFields', 'metadata']);

/**
 * Protobuf keeps no order in a map, and the server sends one map's entries in any order: the same
 * history fetched twice could give two texts, and two SHA-256s. Map entries are written in key order,
 * so a history has one text (the archive's hash and a fresh export's agree).
 */
function withMapsInKeyOrder(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) return value.map((v) => withMapsInKeyOrder(v));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, withMapsInKeyOrder(v, k)] as const);
  if (key !== undefined && MAP_FIELDS.has(key)) entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries);
}

/** The JSON text, indented like the CLI's. */
export function historyToJsonText(history: History): string {
  return JSON.stringify(historyToJsonObject(history), null, 2);
}

/**
 * A History from proto3 JSON. Older tools (tctl, early SDKs) wrote enums in PascalCase
 * ("WorkflowExecutionStarted"); those are normalised to the proto names first. Unknown fields
 * (a newer server's) are ignored rather than refused.
 */
export function historyFromJsonObject(json: unknown): History {
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { events?: unknown }).events)) {
    throw new TypeError('not a workflow history: expected an object with an "events" array');
  }
  const { protojson, historyType } = load();
  const events = (json as { events: Array<Record<string, unknown>> }).events.map(normaliseLegacyEnums);
  return protojson.fromJson(historyType, { events }, { ignoreUnknownFields: true }) as History;
}

export interface HistoryJson {
  events: Array<Record<string, unknown> & { eventId: string; eventTime?: string; eventType: string }>;
}

const constantCase = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

function normaliseLegacyEnums(event: Record<string, unknown>): Record<string, unknown> {
  const type = event.eventType;
  if (typeof type !== 'string' || type.startsWith('EVENT_TYPE_')) return event;
  return { ...event, eventType: `EVENT_TYPE_${constantCase(type)}` };
}
