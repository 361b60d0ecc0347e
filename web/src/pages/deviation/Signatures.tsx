import { Table } from '@mantine/core';
import type { Signature } from '@workflows/types';
import { EmptyState, ScrollBox } from '../../components/common';
import { utc } from '../../lib/time';
import type { DeviationState } from '../../types';

/** Every signature given on the deviation (sign-offs, rejections, change controls, cancellation), oldest first. */
export function Signatures({ d }: { d: DeviationState }) {
  const rows: Array<{ what: string; s: Signature }> = [];
  for (const t of d.tasks) {
    for (const s of t.signatures) rows.push({ what: `${t.title} (${t.id})`, s });
    if (t.rejection) rows.push({ what: `Rejection of ${t.title}: ${t.rejection.reason}`, s: t.rejection.signature });
  }
  for (const r of d.rounds) {
    for (const cc of r.changeControls) {
      for (const a of cc.result?.approvals ?? []) if (a.signature) rows.push({ what: `${cc.id} approval`, s: a.signature });
      if (cc.result?.verification?.signature) rows.push({ what: `${cc.id} verification`, s: cc.result.verification.signature });
    }
  }
  if (d.cancellation?.signature) rows.push({ what: 'Cancellation', s: d.cancellation.signature });
  rows.sort((a, b) => a.s.signedAt.localeCompare(b.s.signedAt));
  if (rows.length === 0) return <EmptyState title="No signature yet" />;
  return (
    <ScrollBox minWidth={700} label="Signatures (scrolls sideways)">
      <Table aria-label="Signatures" striped>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Signed (UTC)</Table.Th>
            <Table.Th>Printed name</Table.Th>
            <Table.Th>Meaning</Table.Th>
            <Table.Th>What</Table.Th>
            <Table.Th>Record SHA-256</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map(({ what, s }, i) => (
            <Table.Tr key={i} data-signature-row>
              <Table.Td style={{ whiteSpace: 'nowrap' }}>{utc(s.signedAt)}</Table.Td>
              <Table.Td>
                {s.printedName} ({s.login})
              </Table.Td>
              <Table.Td>{s.meaning}</Table.Td>
              <Table.Td>{what}</Table.Td>
              <Table.Td className="mono">{s.recordHash}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </ScrollBox>
  );
}
