import { appendAudit } from '../audit/trail';
import { withTransaction, type Pool } from '../db/pool';
import { appendSignature } from '../signatures';
import type { SignatureActivities } from '../workflows/activity-contracts';

export function createSignatureActivities(pool: Pool): SignatureActivities {
  return {
    /** Ledger row and audit row in one transaction; a retry gets the ledger row appended before. */
    async recordSignature(entry) {
      return withTransaction(pool, async (client) => {
        const before = await client.query('SELECT 1 FROM signature_ledger WHERE task_id = $1 AND signer_id = $2 AND meaning = $3', [
          entry.taskId,
          entry.signerId,
          entry.meaning,
        ]);
        const row = await appendSignature(client, { ...entry, signedAt: new Date(entry.signedAt) });
        if (!before.rowCount) {
          await appendAudit(client, {
            actor: entry.login,
            action: 'signature.signed',
            entityType: 'signoff_task',
            entityId: entry.taskId,
            deviationId: entry.deviationId,
            after: {
              meaning: entry.meaning,
              printedName: entry.printedName,
              recordHash: entry.recordHash,
              ledgerId: row.id,
              ledgerHash: row.hash,
            },
            reason: entry.comment,
            at: row.signedAt,
          });
        }
        return { ledgerId: String(row.id), ledgerHash: row.hash };
      });
    },
  };
}
