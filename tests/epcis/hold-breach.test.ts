import request from 'supertest';
import { bundleFromCode, replayRun } from '../../audit/replay';
import { detectHoldBreaches, deliverHoldBreaches } from '../../containment/hold-breaches';
import { formatSsccUrn, withCheckDigit } from '../../domain/gs1';
import { captureDocument } from '../../epcis/capture';
import { createLogger } from '../../lib/logger';
import type { DeviationState, HoldBreach } from '../../workflows/types';
import { as, createCast, type Cast } from '../helpers/actors';
import { newDeviationRequest } from '../helpers/fixtures';
import { eventually, startStack, testConfig, workflowBundle, type TestStack } from '../helpers/stack';
import { CAPTURE_KEY, epcisDocument } from './helpers';

/**
 * A shipping or receiving event captured for product of a batch under hold: the capture is stored
 * (the event happened), and the breach is recorded once, alerted once and shown on the deviation
 * that holds the batch, whether the event names a unit, its case or its pallet.
 */
let stack: TestStack;
let cast: Cast;
beforeAll(async () => {
  stack = await startStack({ config: testConfig({ CAPTURE_API_KEY: CAPTURE_KEY }) });
  cast = await createCast(stack.app, stack.pool);
});
afterAll(async () => {
  await stack.stop();
});

const tag = Date.now().toString(36).toUpperCase();
const sgtin = (serial: string) => `urn:epc:id:sgtin:4012345.011111.${tag}${serial}`;
let ssccs = 0;
const newSscc = () => withCheckDigit(`0401234588${String((Date.now() + ssccs++) % 1e7).padStart(7, '0')}`);
let events = 0;
const event = (fields: Record<string, unknown>) => ({
  eventID: `urn:uuid:${tag}-hb-${events++}`,
  eventTime: '2026-11-23T08:00:00Z',
  eventTimeZoneOffset: '+00:00',
  ...fields,
});
const commissioning = (lot: string, units: string[]) =>
  event({
    type: 'ObjectEvent',
    action: 'ADD',
    bizStep: 'commissioning',
    epcList: units,
    ilmd: { 'cbvmda:lotNumber': lot, 'cbvmda:itemExpirationDate': '2028-11-30' },
  });
const packing = (parent: string, children: string[]) =>
  event({ type: 'AggregationEvent', action: 'ADD', bizStep: 'packing', parentID: formatSsccUrn(parent), childEPCs: children });
const moving = (bizStep: 'shipping' | 'receiving', epcs: string[]) =>
  event({ type: 'ObjectEvent', action: 'OBSERVE', bizStep, epcList: epcs });

const capture = (eventList: unknown[], creationDate?: string) =>
  request(stack.app)
    .post('/epcis/capture')
    .set('Content-Type', 'application/ld+json')
    .set('X-API-Key', CAPTURE_KEY)
    .send(JSON.stringify(epcisDocument(eventList, creationDate)))
    .expect(202);

const stateOf = async (id: string): Promise<DeviationState> =>
  (await request(stack.app).get(`/deviations/${id}`).set(as(cast.auditor)).expect(200)).body.deviation;
const breachesShown = (id: string, count: number) =>
  eventually(async () => {
    const breaches = (await stateOf(id)).containment.breaches ?? [];
    return breaches.length >= count ? breaches : undefined;
  }, 30_000);
/** A deviation on `lot`, once containment has placed its hold. */
async function heldBy(lot: string): Promise<{ id: string; holdId: string }> {
  const id = (
    await request(stack.app)
      .post('/deviations')
      .set(as(cast.qaLead))
      .send(newDeviationRequest({ batches: [lot] }))
      .expect(201)
  ).body.id as string;
  const contained = await eventually(async () => {
    const s = await stateOf(id);
    return s.containment.actionsCompletedAt ? s : undefined;
  }, 60_000);
  return { id, holdId: contained.containment.holds[0]!.holdId };
}
const breachRows = async (deviationId: string) =>
  (
    await stack.pool.query<{ lot: string; biz_step: string; event_id: string; signalled: boolean }>(
      'SELECT lot, biz_step, event_id, signalled_at IS NOT NULL AS signalled FROM hold_breaches WHERE deviation_id = $1 ORDER BY id',
      [deviationId],
    )
  ).rows;
const alerts = async (deviationId: string) =>
  (
    await stack.pool.query<{ kind: string; recipients: string[]; subject: string; body: { lot: string; breaches: HoldBreach[] } }>(
      'SELECT kind, recipients, subject, body FROM notifications WHERE deviation_id = $1 ORDER BY id',
      [deviationId],
    )
  ).rows;

describe('a batch under hold', () => {
  const lot = `HB${tag}`;
  const units = ['1', '2', '3', '4', '5', '6', '7', '8'].map(sgtin);
  const [caseA, caseB, pallet] = [newSscc(), newSscc(), newSscc()];
  let deviation: { id: string; holdId: string };
  let shipment: unknown[];

  beforeAll(async () => {
    // Made and packed before anything went wrong: a case of two units, and a pallet of another case.
    await capture([
      commissioning(lot, units),
      packing(caseA, units.slice(2, 4)),
      packing(caseB, units.slice(4, 6)),
      packing(pallet, [formatSsccUrn(caseB)]),
    ]);
    deviation = await heldBy(lot);
  });

  it('breaches when a unit of it ships: stored all the same, recorded once, alerted once, shown on the deviation', async () => {
    shipment = [moving('shipping', [units[0]!])];
    const captured = await capture(shipment);
    expect(captured.body).toMatchObject({ success: true, newEvents: 1 });

    const [breach] = await breachesShown(deviation.id, 1);
    expect(breach).toEqual({
      id: expect.stringMatching(/^HB\d+$/),
      holdId: deviation.holdId,
      lot,
      bizStep: 'shipping',
      eventId: (shipment[0] as { eventID: string }).eventID,
      eventTime: '2026-11-23T08:00:00.000Z',
      identifiers: [units[0]],
      identifierCount: 1,
      captureId: captured.body.captureID,
      detectedAt: expect.any(String),
    });
    expect(await breachRows(deviation.id)).toEqual([expect.objectContaining({ lot, biz_step: 'shipping', event_id: breach!.eventId })]);
    // (recorded once the signal has been sent)
    await eventually(async () => ((await breachRows(deviation.id))[0]!.signalled ? true : undefined));
    // Alerted to the roles containment alerted when it placed the hold.
    const sent = await alerts(deviation.id);
    const [containment] = sent.filter((n) => n.kind === 'containment_alert');
    const [alert, ...more] = sent.filter((n) => n.kind === 'hold_breach');
    expect(more).toEqual([]);
    expect(alert!.recipients).toEqual(containment!.recipients);
    expect(alert!.subject).toContain(lot);
    expect(alert!.body.breaches).toEqual([expect.objectContaining({ id: breach!.id, identifiers: [units[0]] })]);
    // The read model's summary counts it, for the board.
    await eventually(async () => {
      const { rows } = await stack.pool.query('SELECT summary FROM deviations WHERE id = $1', [deviation.id]);
      return rows[0]?.summary.holdBreaches === 1 ? true : undefined;
    });
  });

  it('is not breached twice by the same document captured again, nor by its event in another document', async () => {
    const again = await capture(shipment);
    expect(again.body).toMatchObject({ duplicateDocument: true, newEvents: 0 });
    const resent = await capture(shipment, '2026-11-23T09:00:00Z');
    expect(resent.body).toMatchObject({ duplicateDocument: false, newEvents: 0 });
    expect(await breachRows(deviation.id)).toHaveLength(1);
    expect((await alerts(deviation.id)).filter((n) => n.kind === 'hold_breach')).toHaveLength(1);
  });

  it('breaches when a case holding its units ships, and a pallet holding such a case', async () => {
    const caseShipped = moving('shipping', [formatSsccUrn(caseA)]);
    const palletShipped = moving('shipping', [formatSsccUrn(pallet)]);
    await capture([caseShipped, palletShipped]);
    const breaches = await breachesShown(deviation.id, 3);
    expect(breaches.slice(1)).toEqual([
      expect.objectContaining({ eventId: caseShipped.eventID, identifiers: [formatSsccUrn(caseA)] }),
      expect.objectContaining({ eventId: palletShipped.eventID, identifiers: [formatSsccUrn(pallet)] }),
    ]);
    // One alert for the capture, naming both events.
    const [, alert] = (await alerts(deviation.id)).filter((n) => n.kind === 'hold_breach');
    expect(alert!.body.breaches.map((b) => b.eventId)).toEqual([caseShipped.eventID, palletShipped.eventID]);
  });

  it('breaches when a unit of it is received, and when a quantity of it (the batch as a class) ships', async () => {
    const received = moving('receiving', [units[6]!]);
    const lgtin = `urn:epc:class:lgtin:4012345.011111.${lot}`;
    const quantityShipped = event({
      type: 'ObjectEvent',
      action: 'OBSERVE',
      bizStep: 'https://ref.gs1.org/cbv/BizStep-shipping',
      quantityList: [{ epcClass: lgtin, quantity: 12 }],
    });
    await capture([received, quantityShipped]);
    const breaches = await breachesShown(deviation.id, 5);
    expect(breaches.slice(3)).toEqual([
      expect.objectContaining({ bizStep: 'receiving', eventId: received.eventID, identifiers: [units[6]] }),
      expect.objectContaining({ bizStep: 'shipping', eventId: quantityShipped.eventID, identifiers: [lgtin] }),
    ]);
    // Every breach once, however often it was signalled.
    expect(new Set(breaches.map((b) => b.id)).size).toBe(breaches.length);
    expect(await breachRows(deviation.id)).toHaveLength(5);
  });
});

it('does not breach a hold that was released (a cancelled deviation lifted it), beside one that still holds', async () => {
  const [released, held] = [`HR${tag}`, `HS${tag}`];
  const [unitOfReleased, unitOfHeld] = [sgtin('R1'), sgtin('S1')];
  await capture([commissioning(released, [unitOfReleased]), commissioning(held, [unitOfHeld])]);
  const [cancelled, open] = await Promise.all([heldBy(released), heldBy(held)]);
  await request(stack.app)
    .post(`/deviations/${cancelled.id}/cancel`)
    .set(as(cast.qaLead))
    .send({ justification: 'Opened on the wrong batch', login: cast.qaLead.login, password: cast.qaLead.password })
    .expect(200);
  await eventually(async () => ((await stateOf(cancelled.id)).containment.holds[0]?.disposition === 'release' ? true : undefined), 30_000);

  await capture([moving('shipping', [unitOfReleased, unitOfHeld])]);
  // (breaches are written by the capture's own transaction: had there been one, it would be there now)
  expect(await breachRows(cancelled.id)).toEqual([]);
  expect((await alerts(cancelled.id)).filter((n) => n.kind === 'hold_breach')).toEqual([]);
  expect(await breachRows(open.id)).toEqual([expect.objectContaining({ lot: held })]);
  const [breach] = await breachesShown(open.id, 1);
  expect(breach!.identifiers).toEqual([unitOfHeld]);
});

it('reaches the deviation when the capturing process died before signalling it, and once when it is signalled twice', async () => {
  const lot = `HD${tag}`;
  const units = [sgtin('D1'), sgtin('D2')];
  await capture([commissioning(lot, units)]);
  const { id } = await heldBy(lot);
  const log = createLogger('hold-breach-test', 'silent');
  const bodyOf = async function* (events: unknown[]) {
    yield JSON.stringify(epcisDocument(events));
  };
  // What the capture route stores, without its signalling afterwards (the process that would have died).
  const storeOnly = (events: unknown[]) =>
    captureDocument(stack.pool, bodyOf(events), {
      maxBytes: 1_000_000,
      capturedBy: 'line-3',
      alsoInTransaction: detectHoldBreaches,
    });
  const first = moving('shipping', [units[0]!]);
  expect(await storeOnly([first])).toMatchObject({ ok: true, newEvents: 1 });
  expect(await breachRows(id)).toEqual([expect.objectContaining({ event_id: first.eventID })]);

  // A delivery round (the next capture's, or the next start's) takes what is waiting.
  await deliverHoldBreaches(stack.pool, stack.temporal, log);
  const [breach] = await breachesShown(id, 1);
  expect(breach).toMatchObject({ eventId: first.eventID, lot });
  await eventually(async () => ((await breachRows(id))[0]!.signalled ? true : undefined));

  // Signalled again (a process died after the signal, before recording it), then a second breach.
  await stack.pool.query('UPDATE hold_breaches SET signalled_at = NULL WHERE deviation_id = $1', [id]);
  await deliverHoldBreaches(stack.pool, stack.temporal, log);
  const second = moving('receiving', [units[1]!]);
  await storeOnly([second]);
  await deliverHoldBreaches(stack.pool, stack.temporal, log);
  const breaches = await breachesShown(id, 2);
  expect(breaches.map((b) => b.eventId)).toEqual([first.eventID, second.eventID]);
  const history = await stack.temporal.workflow.getHandle(id).fetchHistory();
  const signals = history.events!.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'holdBreaches');
  expect(signals.length).toBeGreaterThanOrEqual(3);
  // That history, signals and all, replays against the workflow code.
  const { runId } = await stack.temporal.workflow.getHandle(id).describe();
  expect(await replayRun(bundleFromCode(workflowBundle().code), id, runId, history)).toMatchObject({ deterministic: true });
});
