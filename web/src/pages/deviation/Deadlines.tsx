import { Table, Text } from '@mantine/core';
import * as steps from '@domain/lifecycle';
import { Countdown, ScrollBox, Time } from '../../components/common';
import { StepForm, toIso } from '../../components/StepForm';
import { utc } from '../../lib/time';
import type { DeviationState } from '../../types';
import { Reveal, Section } from './blocks';
import { useDeviationSteps } from './steps';

/** Every deadline of the deviation with its countdown, reminders, escalation and extensions. */
export function Deadlines({ d }: { d: DeviationState }) {
  const terminal = d.stage === 'closed' || d.stage === 'cancelled';
  return (
    <Section title="Deadlines">
      {d.deadlines.length === 0 ? (
        <Text size="sm">No deadline yet.</Text>
      ) : (
        <ScrollBox minWidth={600} label="Deadlines (scrolls sideways)">
          <Table aria-label="Deadlines">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Deadline</Table.Th>
                <Table.Th>Due</Table.Th>
                <Table.Th>Left</Table.Th>
                <Table.Th>Reminders · escalation</Table.Th>
                <Table.Th>Extensions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {d.deadlines.map((dl) => (
                <Table.Tr key={dl.key}>
                  <Table.Td>{dl.label}</Table.Td>
                  <Table.Td>
                    <Time value={dl.dueAt} />
                  </Table.Td>
                  <Table.Td>{terminal && !dl.metAt ? '—' : <Countdown dueAt={dl.dueAt} metAt={dl.metAt} label={dl.label} />}</Table.Td>
                  <Table.Td>
                    {dl.reminders} reminder{dl.reminders === 1 ? '' : 's'}
                    {dl.escalated ? ' · escalated' : ''}
                    {dl.overdue && !dl.metAt ? ' · overdue' : ''}
                  </Table.Td>
                  <Table.Td>
                    {(dl.extensions ?? []).map((e) => (
                      <Text key={e.taskId} size="xs">
                        to {utc(e.to)} — {e.status} ({e.justification})
                      </Text>
                    ))}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </ScrollBox>
      )}
    </Section>
  );
}

/** Asking for a later due date: only while a deadline is still unmet, and only a QA approver's signature grants it. */
export function ExtensionRequest({ d }: { d: DeviationState }) {
  const { post, may, refresh } = useDeviationSteps(d.id);
  const terminal = d.stage === 'closed' || d.stage === 'cancelled';
  const unmet = d.deadlines.filter((x) => !x.metAt);
  if (terminal || !may('extensions') || unmet.length === 0) return null;
  return (
    <Reveal label="Request a due-date extension…">
      <StepForm
        title="Request a due-date extension"
        intro="An extension moves the due date only once a QA approver signs it."
        schema={steps.requestExtensionSchema}
        fields={[
          { name: 'deadline', label: 'Deadline', kind: 'select', options: unmet.map((x) => x.key) },
          { name: 'newDueAt', label: 'New due date (your local time)', kind: 'datetime' },
          { name: 'justification', label: 'Justification', kind: 'textarea' },
        ]}
        toBody={(v) => ({ deadline: v.deadline, newDueAt: toIso(String(v.newDueAt)), justification: v.justification })}
        submit={post('extensions')}
        submitLabel="Request the extension"
        onDone={refresh}
      />
    </Reveal>
  );
}
