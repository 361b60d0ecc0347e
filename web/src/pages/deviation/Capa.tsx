import { SimpleGrid, Table, Text } from '@mantine/core';
import * as steps from '@domain/lifecycle';
import type { InvestigationRound } from '@workflows/types';
import { Countdown, ScrollBox, Time } from '../../components/common';
import { StepForm, toIso, toList } from '../../components/StepForm';
import { api } from '../../lib/api';
import { label } from '../../lib/time';
import type { DeviationState } from '../../types';
import { Attributed, Section } from './blocks';
import { useDeviationSteps } from './steps';

/** A round's CAPA plan: its actions (one may open a change control), the plan's approval, each action's completion. */
export function Capa({ d, r, current }: { d: DeviationState; r: InvestigationRound; current: boolean }) {
  const { post, may, refresh } = useDeviationSteps(d.id);
  const capaOpen = current && d.stage === 'capa';
  return (
    <>
      <Section title="CAPA actions">
        {r.capa.actions.length === 0 ? <Text size="sm">No action yet.</Text> : null}
        {r.capa.actions.length ? (
          <ScrollBox minWidth={640} label="CAPA actions (scrolls sideways)">
            <Table aria-label="CAPA actions">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Action</Table.Th>
                  <Table.Th>Type</Table.Th>
                  <Table.Th>Owner</Table.Th>
                  <Table.Th>Due</Table.Th>
                  <Table.Th>Status</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {r.capa.actions.map((a) => (
                  <Table.Tr key={a.id}>
                    <Table.Td>
                      <strong>{a.id}</strong> {a.description}
                      {a.changeControl ? (
                        <Text size="xs">
                          change control: {label(a.changeControl.kind)} — {a.changeControl.description}
                        </Text>
                      ) : null}
                    </Table.Td>
                    <Table.Td>{a.type}</Table.Td>
                    <Table.Td>{a.owner}</Table.Td>
                    <Table.Td>
                      {a.status === 'open' ? <Countdown dueAt={a.dueAt} label={`${a.id} due`} /> : <Time value={a.dueAt} />}
                    </Table.Td>
                    <Table.Td>
                      {a.status}
                      {a.completion ? <Text size="xs">{a.completion.evidence}</Text> : null}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </ScrollBox>
        ) : null}
        {r.capa.planApproval ? (
          <>
            <Text size="sm" fw={700}>
              Plan approved
            </Text>
            <Attributed a={r.capa.planApproval} />
          </>
        ) : null}
      </Section>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        {capaOpen && !r.capa.planApproval && may('capa/actions') ? (
          <StepForm
            title="Add a CAPA action"
            schema={steps.addCapaActionSchema}
            fields={[
              { name: 'type', label: 'Type', kind: 'select', options: steps.CAPA_TYPES },
              { name: 'description', label: 'Description', kind: 'textarea' },
              { name: 'owner', label: 'Owner (login)', kind: 'text' },
              { name: 'dueDate', label: 'Due (your local time)', kind: 'datetime' },
              { name: 'ccKind', label: 'Opens a change control of kind', kind: 'select', options: steps.CHANGE_KINDS, placeholder: 'none' },
              { name: 'ccDescription', label: 'Change control description', kind: 'text' },
            ]}
            toBody={(v) => ({
              type: v.type || undefined,
              description: v.description,
              owner: v.owner,
              dueDate: toIso(String(v.dueDate)),
              ...(v.ccKind ? { changeControl: { kind: v.ccKind, description: v.ccDescription } } : {}),
            })}
            fieldOf={(p) =>
              p.startsWith('changeControl.kind') ? 'ccKind' : p.startsWith('changeControl') ? 'ccDescription' : (p.split('.')[0] ?? p)
            }
            submit={post('capa/actions')}
            submitLabel="Add the action"
            onDone={refresh}
          />
        ) : null}
        {capaOpen && r.capa.planApproval && r.capa.actions.some((a) => a.status === 'open') && may('capa/actions/{actionId}/complete') ? (
          <StepForm
            title="Complete a CAPA action"
            schema={steps.completeCapaActionSchema}
            fields={[
              {
                name: 'actionId',
                label: 'Action',
                kind: 'select',
                options: r.capa.actions.filter((a) => a.status === 'open').map((a) => a.id),
              },
              { name: 'evidence', label: 'Completion evidence', kind: 'textarea' },
              { name: 'evidenceRefs', label: 'Evidence references', kind: 'text', description: 'comma-separated (optional)' },
            ]}
            toBody={(v) => ({ actionId: v.actionId, evidence: v.evidence, evidenceRefs: toList(v.evidenceRefs) })}
            submit={(body) => {
              const { actionId, ...rest } = body as { actionId: string };
              return api(`/deviations/${d.id}/capa/actions/${actionId}/complete`, { method: 'POST', body: rest });
            }}
            submitLabel="Complete the action"
            onDone={refresh}
          />
        ) : null}
      </SimpleGrid>
    </>
  );
}
