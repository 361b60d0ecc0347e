import { Anchor, Badge, Group, Stack, Table, Text } from '@mantine/core';
import { Link } from 'react-router';
import { Countdown, Time } from '../../components/common';
import { label, utc } from '../../lib/time';
import type { DeviationState } from '../../types';
import { Attributed, Section } from './blocks';

/** Containment: its window and verification, the holds on every batch, the shipments traced, the first reconciliation. */
export function Containment({ d }: { d: DeviationState }) {
  const terminal = d.stage === 'closed' || d.stage === 'cancelled';
  return (
    <Stack>
      <Section title="Containment">
        <Group>
          <Text size="sm">
            Window ends <Time value={d.containment.dueAt} />
          </Text>
          {d.containment.confirmation ? (
            <Badge color={d.containment.confirmation.late ? 'orange' : 'green'}>
              {d.containment.confirmation.late ? 'verified late' : 'verified'}
            </Badge>
          ) : !terminal ? (
            <Countdown dueAt={d.containment.dueAt} label="containment" />
          ) : null}
          {d.containment.slaBreachedAt ? <Badge color="red">SLA breached {utc(d.containment.slaBreachedAt)}</Badge> : null}
        </Group>
        <Text size="sm">
          Actions completed: {d.containment.actionsCompletedAt ? <Time value={d.containment.actionsCompletedAt} /> : 'running…'} · reminders
          sent {d.containment.remindersSent}
          {d.containment.escalatedAt ? ` · escalated ${utc(d.containment.escalatedAt)}` : ''}
        </Text>
        {d.containment.confirmation ? <Attributed a={d.containment.confirmation} /> : null}
      </Section>
      <Section title="Holds">
        {d.containment.holds.length === 0 ? (
          <Text size="sm">No hold placed yet.</Text>
        ) : (
          <Table aria-label="Holds">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Lot</Table.Th>
                <Table.Th>Hold</Table.Th>
                <Table.Th>Placed</Table.Th>
                <Table.Th>Disposition</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {d.containment.holds.map((h) => (
                <Table.Tr key={h.holdId}>
                  <Table.Td>{h.lot}</Table.Td>
                  <Table.Td className="mono">{h.holdId}</Table.Td>
                  <Table.Td>
                    <Time value={h.placedAt} />
                  </Table.Td>
                  <Table.Td>
                    {h.disposition ? `${h.disposition} by ${h.disposedBy ?? '?'} (${h.disposedAt ? utc(h.disposedAt) : ''})` : 'on hold'}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Section>
      <Section title="Traced shipments">
        {d.containment.trace ? (
          <Text size="sm">
            {d.containment.trace.shipments} shipment(s), {d.containment.trace.serials} serial(s), SSCCs:{' '}
            {d.containment.trace.ssccs.join(', ') || 'none'}
            {d.containment.trace.truncated ? ' (more in the database)' : ''}
          </Text>
        ) : (
          <Text size="sm">No trace yet.</Text>
        )}
      </Section>
      <Section title="Preliminary reconciliation">
        {d.containment.preliminaryReconciliation.length === 0 ? (
          <Text size="sm">Not run yet.</Text>
        ) : (
          d.containment.preliminaryReconciliation.map((r) => (
            <Stack key={r.reportId} gap={4}>
              <Text size="sm">
                <Anchor component={Link} to={`/batches?lot=${encodeURIComponent(r.lot)}${r.gtin ? `&gtin=${r.gtin}` : ''}`}>
                  {r.lot}
                </Anchor>{' '}
                {r.unknownBatch ? '(unknown batch: no master data or events)' : ''} · report {r.reportId}
              </Text>
              <Text size="xs">
                Balance:{' '}
                {Object.entries(r.balance)
                  .map(([k, v]) => `${k} ${v}`)
                  .join(' · ')}
              </Text>
              <Text size="xs">
                Discrepancies:{' '}
                {Object.entries(r.discrepancies)
                  .map(([k, v]) => `${label(k)} ${v}`)
                  .join(' · ')}
              </Text>
            </Stack>
          ))
        )}
      </Section>
    </Stack>
  );
}
