import { answerVerification, recordVerificationSchema } from '../../domain/dscsa';
import {
  alertSeverity,
  alertSymptom,
  classifyAlert,
  emvsAlertSchema,
  expiryContradicts,
  parseExpiry,
  startsRegulatoryClock,
  statusChangeProblem,
  type AlertedPack,
  type OwnPackData,
} from '../../domain/emvs';
import { withCheckDigit } from '../../domain/gs1';

/**
 * The verdict on an alerted pack, pure: the company's own data in, the classification and its cause
 * out. Every way the data can fail to account for the pack is the company's own error; only a pack it
 * accounts for completely is suspected falsified.
 */
const GTIN = '04012345190939';
const pack: AlertedPack = { gtin: GTIN, lot: 'LOT-1', serial: 'SN0001', expiry: '271231' };

/** A pack the own data accounts for completely: commissioned once in LOT-1, uploaded, packed. */
const genuine = (over: Partial<OwnPackData> = {}): OwnPackData => ({
  productKnown: true,
  batch: { id: '7', expiry: '2027-12-31', line: 'L3' },
  unit: {
    commissionings: 1,
    batchId: '7',
    lot: 'LOT-1',
    expiry: '2027-12-31',
    line: 'L3',
    status: 'packed',
    statusAt: '2026-01-05T10:00:00.000Z',
  },
  uploaded: true,
  holds: [],
  ...over,
});
const unitWith = (over: Partial<NonNullable<OwnPackData['unit']>>) => genuine({ unit: { ...genuine().unit!, ...over } });

describe('classifyAlert', () => {
  it('suspects falsification only of a pack commissioned, uploaded and still active', () => {
    const v = classifyAlert('eu_fmd', pack, genuine());
    expect(v).toMatchObject({ classification: 'suspected_falsification', cause: 'suspected_falsification' });
    expect(v.findings.join(' ')).toContain('uploaded to EMVS');
    expect(startsRegulatoryClock('eu_fmd', v)).toBe(true);
    expect(alertSeverity(v)).toBe('critical');
  });

  it("calls a serial never uploaded to EMVS the company's own error", () => {
    const v = classifyAlert('eu_fmd', pack, genuine({ uploaded: false }));
    expect(v).toMatchObject({ classification: 'mah_error', cause: 'not_uploaded' });
    expect(startsRegulatoryClock('eu_fmd', v)).toBe(false);
    expect(alertSeverity(v)).toBe('major');
    expect(alertSymptom(v.cause)).toBe('missing_report');
  });

  it('calls a serial never commissioned (or named only by other events) the own error', () => {
    expect(classifyAlert('eu_fmd', pack, genuine({ unit: null })).cause).toBe('not_commissioned');
    expect(classifyAlert('eu_fmd', pack, unitWith({ commissionings: 0, batchId: null, lot: null, status: 'shipped' })).cause).toBe(
      'not_commissioned',
    );
    expect(classifyAlert('eu_fmd', pack, genuine({ unit: null, batch: null })).classification).toBe('mah_error');
  });

  it('names the batch or expiry the pack shows against the one the serial was commissioned with', () => {
    expect(classifyAlert('eu_fmd', pack, unitWith({ lot: 'LOT-2' }))).toMatchObject({
      classification: 'mah_error',
      cause: 'batch_mismatch',
    });
    expect(classifyAlert('eu_fmd', { ...pack, expiry: '281231' }, genuine())).toMatchObject({ cause: 'expiry_mismatch' });
    // (GS1 dates: DD 00 names the month, which matches any day of it)
    expect(classifyAlert('eu_fmd', { ...pack, expiry: '271200' }, genuine()).cause).toBe('suspected_falsification');
    expect(classifyAlert('eu_fmd', { ...pack, expiry: '2027-12-31' }, genuine()).cause).toBe('suspected_falsification');
  });

  it('calls a pack the company destroyed, sampled or decommissioned itself its own error', () => {
    for (const status of ['destroyed', 'sampled', 'decommissioned']) {
      expect(classifyAlert('eu_fmd', pack, unitWith({ status }))).toMatchObject({ classification: 'mah_error', cause: 'decommissioned' });
    }
  });

  it('does not take up a product that is not the company’s', () => {
    const v = classifyAlert('eu_fmd', pack, { productKnown: false, batch: null, unit: null, uploaded: null, holds: [] });
    expect(v).toMatchObject({ classification: 'not_own_product', cause: 'not_own_product' });
  });

  it('asks DSCSA nothing of a repository, and starts no clock on a suspect product', () => {
    const v = classifyAlert('dscsa', pack, genuine({ uploaded: null }));
    expect(v.classification).toBe('suspected_falsification');
    expect(startsRegulatoryClock('dscsa', v)).toBe(false);
  });

  it('names the holds on the batch among its findings', () => {
    expect(classifyAlert('eu_fmd', pack, genuine({ holds: ['DEV-2026-000007'] })).findings.join(' ')).toContain('DEV-2026-000007');
  });
});

describe('expiry dates', () => {
  it('reads GS1 YYMMDD (DD 00: the month) and ISO dates, and refuses dates that do not exist', () => {
    expect(parseExpiry('271231')).toEqual({ year: 2027, month: 12, day: 31 });
    expect(parseExpiry('280200')).toEqual({ year: 2028, month: 2, day: null });
    expect(parseExpiry('2028-02-29')).toEqual({ year: 2028, month: 2, day: 29 });
    for (const bad of ['271332', '270230', '2027-02-29', '2027-00-10', '27123', 'tomorrow']) expect(parseExpiry(bad)).toBeNull();
    expect(expiryContradicts('271130', '2027-12-31')).toBe(true);
    expect(expiryContradicts('271200', '2027-12-31')).toBe(false);
  });
});

describe('answerVerification (DSCSA, from commissioning data)', () => {
  const full = { ...pack, expiry: '271231' };
  it('verifies a commissioned, active serial with its lot and expiry', () => {
    expect(answerVerification(full, genuine(), '2026-06-01')).toEqual({ verified: true });
    expect(answerVerification(full, genuine(), '2028-01-01')).toEqual({ verified: true, additionalInfo: 'Expired' });
  });
  it('names what does not match, in the standard’s reasons', () => {
    expect(answerVerification(full, genuine({ unit: null }), '2026-06-01').verificationFailureReason).toBe('No_match_GTIN_Serial');
    expect(answerVerification(full, unitWith({ lot: 'X' }), '2026-06-01').verificationFailureReason).toBe('No_match_GTIN_Serial_Lot');
    expect(answerVerification({ ...full, expiry: '281231' }, genuine(), '2026-06-01').verificationFailureReason).toBe(
      'No_match_GTIN_Serial_Expiry',
    );
    expect(answerVerification({ ...full, expiry: '281231' }, unitWith({ lot: 'X' }), '2026-06-01').verificationFailureReason).toBe(
      'No_match_GTIN_Serial_Lot_Expiry',
    );
    expect(answerVerification(full, unitWith({ status: 'destroyed' }), '2026-06-01')).toEqual({
      verified: false,
      verificationFailureReason: 'Not_for_re-distribution',
    });
    expect(answerVerification(full, genuine({ holds: ['DEV-2026-000001'] }), '2026-06-01').verificationFailureReason).toBe(
      'Manufacturer_policy',
    );
  });
});

describe('input schemas', () => {
  const alert = {
    alertId: 'DE-2026-0001',
    alertCode: 'A3',
    returnCode: 'NMVS_NC_PC_02',
    productCode: GTIN,
    batch: 'LOT-1',
    serialNumber: 'SN0001',
    expiryDate: '271231',
    market: 'DE',
    raisedAt: '2026-03-01T10:00:00Z',
  };
  it('takes an alert as the partner passes it on, status new by default', () => {
    expect(emvsAlertSchema.parse(alert)).toMatchObject({ status: 'new', productCode: GTIN });
  });
  it.each([
    ['alertId', 'x'.repeat(101)],
    ['alertId', 'has space'],
    ['alertCode', 'B3'],
    ['returnCode', 'nmvs_nc_pc_02'],
    ['productCode', '04012345190938'],
    ['batch', 'L'.repeat(21)],
    ['serialNumber', 'SN#1'],
    ['expiryDate', '271332'],
    ['market', 'de'],
    ['raisedAt', 'yesterday'],
    ['status', 'open'],
  ])('refuses a bad %s', (field, value) => {
    const r = emvsAlertSchema.safeParse({ ...alert, [field]: value });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual([field]);
  });
  it('refuses fields it does not know', () => {
    expect(emvsAlertSchema.safeParse({ ...alert, extra: 1 }).success).toBe(false);
  });

  it('takes a verification with GLNs and a correlation UUID; a verified one gives no failure reason', () => {
    const v = {
      gtin: GTIN,
      serialNumber: 'SN0001',
      lotNumber: 'LOT-1',
      expirationDate: '271231',
      verified: false,
      verificationFailureReason: 'No_match_GTIN_Serial',
      requesterGLN: withCheckDigit('061414100001'),
      responderGLN: withCheckDigit('061414100002'),
      correlationUUID: '4f4d3c2b-1a09-4e8f-9a6b-5c4d3e2f1a0b',
      verificationTimestamp: '2026-03-01T10:00:00Z',
    };
    expect(recordVerificationSchema.safeParse(v).success).toBe(true);
    expect(recordVerificationSchema.safeParse({ ...v, verified: true }).success).toBe(false);
    const gln = v.requesterGLN;
    const wrongCheckDigit = `${gln.slice(0, 12)}${(Number(gln[12]) + 1) % 10}`;
    expect(recordVerificationSchema.safeParse({ ...v, requesterGLN: wrongCheckDigit }).success).toBe(false);
  });
});

describe('alert status', () => {
  it('changes to any other status until closed', () => {
    expect(statusChangeProblem('new', 'under_investigation')).toBeNull();
    expect(statusChangeProblem('escalated', 'closed')).toBeNull();
    expect(statusChangeProblem('new', 'new')).toMatch(/already/);
    expect(statusChangeProblem('closed', 'active')).toMatch(/closed/);
  });
});
