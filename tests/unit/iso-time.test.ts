import { isoDate, isoDateTime, unstorableTimeReason } from '../../domain/iso-time';

/** Dates and times that RFC 3339 allows but PostgreSQL cannot read are refused before they reach it. */
describe('storable dates and times', () => {
  it.each([
    ['0000-01-01', 'year 0000'],
    ['0000-12-31T23:59:59Z', 'year 0000'],
    ['2026-11-23T06:00:00+16:00', 'UTC offset of 16 hours'],
    ['2026-11-23T06:00:00-23:59', 'UTC offset of 16 hours'],
    ['2026-11-23T06:00:00+16', 'UTC offset of 16 hours'],
    ['2026-11-23T06:00:00.5+1600', 'UTC offset of 16 hours'],
  ])('refuses %s (%s)', (value, reason) => {
    expect(unstorableTimeReason(value)).toContain(reason);
  });

  it.each([
    '0001-01-01',
    '9999-12-31',
    '2026-11-23T06:00:00+15:59',
    '2026-11-23T06:00:00+15',
    '2026-11-23T06:00:00-12:00',
    '2020-12-31T23:59:60Z',
    '2026-11-23T06:00:00.123456789Z',
    '2026-11-23',
  ])('takes %s', (value) => {
    expect(unstorableTimeReason(value)).toBeNull();
  });

  it('gives the API schemas the same rule, with the reason as the message', () => {
    expect(isoDate.safeParse('2028-11-30').success).toBe(true);
    expect(isoDate.safeParse('0000-11-30').error?.issues[0]?.message).toContain('year 0000');
    expect(isoDateTime.safeParse('2026-11-23T06:00:00Z').success).toBe(true);
    expect(isoDateTime.safeParse('2026-11-23T06:00:00+16:00').error?.issues[0]?.message).toContain('UTC offset');
    expect(isoDateTime.safeParse('2026-11-23').success).toBe(false);
  });
});
