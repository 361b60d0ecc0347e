import type { Pool } from '../db/pool';
import { appendSignature } from '../signatures';
import type { SignatureActivities } from './types';

export function createSignatureActivities(pool: Pool): SignatureActivities {
  return {
    async recordSignature(entry) {
      const row = await appendSignature(pool, { ...entry, signedAt: new Date(entry.signedAt) });
      return { ledgerId: String(row.id), ledgerHash: row.hash };
    },
  };
}
