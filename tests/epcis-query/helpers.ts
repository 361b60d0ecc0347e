import type { Express } from 'express';
import request from 'supertest';
import { withCheckDigit } from '../../domain/gs1';
import { CAPTURE_KEY, epcisDocument } from '../epcis/helpers';

export { CAPTURE_KEY };

type Json = Record<string, unknown>;

/** Captures events through the API, as a line system would (the configured capture key: an integration client). */
export async function capture(app: Express, events: unknown[]): Promise<void> {
  const res = await request(app)
    .post('/epcis/capture')
    .set('Content-Type', 'application/ld+json')
    .set('X-API-Key', CAPTURE_KEY)
    .send(JSON.stringify(epcisDocument(events)));
  if (res.status !== 202) throw new Error(`capture: ${res.status} ${JSON.stringify(res.body).slice(0, 800)}`);
}

/** The events of an EPCISQueryDocument. */
export function eventsOf(body: unknown): Json[] {
  return (body as { epcisBody: { queryResults: { resultsBody: { eventList: Json[] } } } }).epcisBody.queryResults.resultsBody.eventList;
}

export const eventIdsOf = (body: unknown): string[] => eventsOf(body).map((e) => e.eventID as string);

/** The URL of the Link header's rel="next", or null on the last page. */
export function nextLink(headers: Record<string, unknown>): string | null {
  const link = headers.link;
  if (typeof link !== 'string') return null;
  return /<([^>]+)>;\s*rel="next"/.exec(link)?.[1] ?? null;
}

/** A unique tag for a test file's identifiers (tests share one database). */
export const testTag = () =>
  `${Date.now().toString(36).toUpperCase()}${Math.floor(Math.random() * 1296)
    .toString(36)
    .toUpperCase()}`;

/** A GTIN-14 of the test company prefix with a valid check digit. */
export const gtinOf = (itemRef: number) => withCheckDigit(`04012345${String(itemRef).padStart(5, '0')}`);

/** An SSCC-18 with a valid check digit, from an extension digit and a number. */
export const ssccOf = (extension: number, n: number) => withCheckDigit(`${extension}4012345${String(n).padStart(9, '0')}`);
