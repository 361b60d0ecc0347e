import { ApplicationFailure } from '@temporalio/common';
import { storableFailure } from '../../workflows/refusals';

/** What an Update handler or validator throws reaches the SDK's core, which cannot encode a lone surrogate. */
describe('storableFailure', () => {
  it('replaces unstorable characters in an application failure, keeping its type and retry flag', () => {
    const failure = storableFailure(
      ApplicationFailure.create({ type: 'InvalidInput', message: 'no deadline x\ud800y', nonRetryable: true }),
    ) as ApplicationFailure;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'InvalidInput', message: 'no deadline x\ufffdy', nonRetryable: true });
  });

  it('replaces them in any other error, keeping its name', () => {
    const failure = storableFailure(new TypeError("Cannot read properties of undefined (reading '\udc00\u0000')")) as Error;
    expect(failure.name).toBe('TypeError');
    expect(failure.message).toBe("Cannot read properties of undefined (reading '\ufffd\ufffd')");
    expect(failure.stack).not.toMatch(/[\ud800-\udfff\u0000]/u);
  });

  it('leaves a storable error as it is', () => {
    const plain = new Error('the step needs a JSON object');
    expect(storableFailure(plain)).toBe(plain);
    expect(storableFailure('not an error')).toBe('not an error');
  });
});
