import { Badge, Button, Group, Stack, Tabs, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { SeverityBadge, StageBadge, Time } from '../../components/common';
import { QueryView } from '../../components/QueryView';
import { SignDialog, type SignRequest } from '../../components/SignDialog';
import { api } from '../../lib/api';
import { label } from '../../lib/time';
import { usePermissions } from '../../permissions';
import type { DeviationAnswer, DeviationState } from '../../types';
import { Closure } from './Closure';
import { Containment } from './Containment';
import { Overview } from './Overview';
import { RoundView } from './RoundView';
import { Signatures } from './Signatures';
import { StageRail } from './StageRail';
import { useDeviationSteps } from './steps';

/** The tab a person most likely wants: the current round once the investigation started, else the overview. */
function defaultTab(d: DeviationState): string {
  const round = d.rounds[d.rounds.length - 1];
  if (
    round &&
    ['investigation', 'capa', 'change_control', 'effectiveness_check'].includes(d.stage) &&
    !d.tasks.some((t) => t.status === 'open')
  )
    return `round-${round.number}`;
  return 'overview';
}

/** A deviation's page: its header and stage rail, then a tab per part of the lifecycle; polled every 3 s. */
export function DeviationPage() {
  const { id = '' } = useParams();
  const { refresh } = useDeviationSteps(id);
  const [signing, setSigning] = useState<SignRequest | null>(null);
  const q = useQuery({ queryKey: ['deviation', id], queryFn: () => api<DeviationAnswer>(`/deviations/${id}`), refetchInterval: 3000 });
  return (
    <QueryView query={q} what={`deviation ${id}`}>
      {(answer) => (
        <Stack>
          <DeviationView d={answer.deviation} onSign={setSigning} />
          <SignDialog request={signing} opened={signing !== null} onClose={() => setSigning(null)} onSigned={refresh} />
        </Stack>
      )}
    </QueryView>
  );
}

function DeviationView({ d, onSign }: { d: DeviationState; onSign: (r: SignRequest) => void }) {
  const { can } = usePermissions();
  const round = d.rounds[d.rounds.length - 1];
  return (
    <>
      <Group justify="space-between" align="flex-start">
        <Stack gap={4}>
          <Group gap="xs">
            <Title order={2}>{d.id}</Title>
            <SeverityBadge severity={d.severity} />
            <StageBadge stage={d.stage} />
            {d.slaBreaches.length ? (
              <Badge color="red" variant="outline">
                SLA breach
              </Badge>
            ) : null}
          </Group>
          <Text fw={700}>{d.title}</Text>
          <Text size="sm">
            {label(d.symptom)} · batches {d.batches.join(', ')} · lines {d.lines.join(', ') || '—'} · opened by {d.reportedBy},{' '}
            <Time value={d.detectedAt} /> · policy {d.policy.name} {d.policy.version}
          </Text>
        </Stack>
        <Group gap="xs">
          {can('get', '/deviations/{id}/history') ? (
            <Button component={Link} to={`/audit/${d.id}`} variant="outline" size="xs">
              Auditor's view
            </Button>
          ) : null}
        </Group>
      </Group>
      <StageRail d={d} />
      <Text size="sm">{d.description}</Text>

      <Tabs defaultValue={defaultTab(d)} keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="overview">Overview</Tabs.Tab>
          <Tabs.Tab value="containment">Containment</Tabs.Tab>
          {d.rounds.map((r) => (
            <Tabs.Tab key={r.number} value={`round-${r.number}`}>
              Investigation &amp; CAPA{d.rounds.length > 1 ? ` · round ${r.number}` : ''}
            </Tabs.Tab>
          ))}
          <Tabs.Tab value="closure">Closure</Tabs.Tab>
          <Tabs.Tab value="signatures">Signatures</Tabs.Tab>
        </Tabs.List>

        <Tabs.Panel value="overview" pt="md">
          <Overview d={d} onSign={onSign} />
        </Tabs.Panel>
        <Tabs.Panel value="containment" pt="md">
          <Containment d={d} />
        </Tabs.Panel>
        {d.rounds.map((r) => (
          <Tabs.Panel key={r.number} value={`round-${r.number}`} pt="md">
            <RoundView d={d} r={r} current={r === round} onSign={onSign} />
          </Tabs.Panel>
        ))}
        <Tabs.Panel value="closure" pt="md">
          <Closure d={d} />
        </Tabs.Panel>
        <Tabs.Panel value="signatures" pt="md">
          <Signatures d={d} />
        </Tabs.Panel>
      </Tabs>
    </>
  );
}
