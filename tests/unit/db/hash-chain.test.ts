import { createHash } from 'node:crypto';
import { canonicalSha256, GENESIS_HASH, verifyChain, type ChainReader, type ChainRow } from '../../../db/hash-chain';

interface Row extends ChainRow {
  id: number;
  text: string;
}

const hashOf = (r: Pick<Row, 'text' | 'prevHash'>) => canonicalSha256({ text: r.text, prevHash: r.prevHash });

function chain(texts: string[]): Row[] {
  const rows: Row[] = [];
  for (const [i, text] of texts.entries()) {
    const prevHash = rows[i - 1]?.hash ?? GENESIS_HASH;
    rows.push({ id: i + 1, text, prevHash, hash: hashOf({ text, prevHash }) });
  }
  return rows;
}

/** A reader over rows in memory, counting the pages it was asked for. */
function reader(rows: Row[]): ChainReader<Row> & { pages: number[] } {
  const pages: number[] = [];
  return {
    pages,
    page: async (after: Row | undefined, limit: number) => {
      const next = rows.filter((r) => r.id > (after?.id ?? 0)).slice(0, limit);
      pages.push(next.length);
      return next;
    },
    hashOf,
  };
}

describe('the hash chain shared by the audit trail and the signature ledger', () => {
  it('hashes the RFC 8785 canonical JSON with SHA-256, whatever the key order', () => {
    const expected = createHash('sha256').update('{"a":[1,"é"],"b":null}', 'utf8').digest('hex');
    expect(canonicalSha256({ b: null, a: [1, 'é'] })).toBe(expected);
    expect(() => canonicalSha256(undefined)).toThrow(TypeError);
  });

  it('verifies a chain page by page, and names the first row that does not hold', async () => {
    const rows = chain(['a', 'b', 'c', 'd', 'e']);
    const whole = reader(rows);
    expect(await verifyChain(whole, 2)).toEqual({ ok: true, rows: 5, lastHash: rows[4]!.hash });
    expect(whole.pages).toEqual([2, 2, 1]);

    const altered = rows.map((r) => (r.id === 3 ? { ...r, text: 'C' } : r));
    expect(await verifyChain(reader(altered), 2)).toMatchObject({
      ok: false,
      rows: 3,
      lastHash: rows[1]!.hash,
      broken: { id: 3 },
      problem: 'content',
    });

    const removed = rows.filter((r) => r.id !== 3);
    expect(await verifyChain(reader(removed), 2)).toMatchObject({
      ok: false,
      rows: 3,
      lastHash: rows[1]!.hash,
      broken: { id: 4 },
      problem: 'link',
    });

    expect(await verifyChain(reader([]))).toEqual({ ok: true, rows: 0, lastHash: GENESIS_HASH });
  });
});
