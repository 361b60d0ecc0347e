import { Anchor, Badge, Button, Group, NativeSelect, Paper, Stack, Switch, Table, Text, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { Link } from 'react-router';
import { signerDutyProblem, signedRecord } from '@workflows/deviation/gates';
import { Countdown, SeverityBadge, Time, ScrollBox } from '../components/common';
import { QueryView } from '../components/QueryView';
import { SignDialog, type SignRequest } from '../components/SignDialog';
import { api, explain, qs } from '../lib/api';
import { label } from '../lib/time';
import { useSession } from '../session';
import type { DeviationAnswer, InboxTask } from '../types';

/** The signer's inbox (GET /tasks): due dates, overdue marks, and the signing dialog. */
export function TasksPage() {
  const { me, hasRole } = useSession();
  const queryClient = useQueryClient();
  const [status, setStatus] = useState('open');
  const [overdue, setOverdue] = useState(false);
  const [all, setAll] = useState(false);
  const [signing, setSigning] = useState<SignRequest | null>(null);
  const [refusal, setRefusal] = useState<string | null>(null);
  const tasks = useQuery({
    queryKey: ['tasks', status, overdue, all],
    queryFn: () =>
      api<{ items: InboxTask[] }>(`/tasks${qs({ status, overdue: overdue ? 'true' : undefined, scope: all ? 'all' : undefined })}`),
    refetchInterval: 3000,
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ['tasks'] });

  const open = async (t: InboxTask) => {
    setRefusal(null);
    try {
      const dev = await queryClient.fetchQuery({
        queryKey: ['deviation', t.deviationId],
        queryFn: () => api<DeviationAnswer>(`/deviations/${t.deviationId}`),
        staleTime: 0,
      });
      const local = dev.deviation.tasks.find((x) => `${dev.id}.${x.id}` === t.id);
      if (!local) return setRefusal(`${t.id} is no longer part of ${t.deviationId}.`);
      const problem = signerDutyProblem(dev.deviation, local, { login: me.login, roles: me.roles });
      if (problem) return setRefusal(`You cannot sign ${t.id}: ${problem}.`);
      setSigning({
        title: `${t.title} — ${t.deviationId}`,
        meaning: t.meaning,
        record: signedRecord(dev.deviation, local),
        sign: (c, comment) =>
          api(`/tasks/${t.id}/sign`, { method: 'POST', body: { meaning: t.meaning, ...c, ...(comment ? { comment } : {}) } }),
        reject: (c, reason) => api(`/tasks/${t.id}/reject`, { method: 'POST', body: { reason, ...c } }),
      });
    } catch (err) {
      setRefusal(explain(err).message);
    }
  };

  return (
    <Stack>
      <Title order={2}>My tasks</Title>
      <Paper withBorder p="sm" component="section" aria-label="Filters">
        <Group align="flex-end">
          <NativeSelect
            label="Status"
            data={['open', 'signed', 'rejected', 'cancelled']}
            value={status}
            onChange={(e) => setStatus(e.currentTarget.value)}
            w={150}
          />
          <Switch label="Overdue only" checked={overdue} onChange={(e) => setOverdue(e.currentTarget.checked)} mb={6} />
          {hasRole('qa_head', 'auditor') ? (
            <Switch label="Everyone's tasks" checked={all} onChange={(e) => setAll(e.currentTarget.checked)} mb={6} />
          ) : null}
        </Group>
      </Paper>
      {refusal ? (
        <Text c="red.9" role="alert">
          {refusal}
        </Text>
      ) : null}
      <QueryView
        query={tasks}
        what="your tasks"
        isEmpty={(data) => data.items.length === 0}
        emptyTitle={status === 'open' ? 'Nothing waits for your signature' : `No ${status} task`}
        emptyHint="Tasks for your roles appear here within a second or two of being opened."
      >
        {(data) => (
          <ScrollBox minWidth={700} label="Tasks (scrolls sideways)">
            <Table striped aria-label="Tasks">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Task</Table.Th>
                  <Table.Th>Deviation</Table.Th>
                  <Table.Th>Meaning</Table.Th>
                  <Table.Th>Due</Table.Th>
                  <Table.Th>Signatures</Table.Th>
                  <Table.Th>
                    <span className="sr-only">Action</span>
                  </Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.items.map((t) => (
                  <Table.Tr key={t.id} data-task={t.gate}>
                    <Table.Td>
                      <Text fw={700} size="sm">
                        {t.title}
                      </Text>
                      <Text size="xs">
                        {t.id} · {label(t.gate)}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Anchor component={Link} to={`/deviations/${t.deviationId}`}>
                        {t.deviationId}
                      </Anchor>{' '}
                      <SeverityBadge severity={t.severity} />
                      <Text size="xs">{t.deviationTitle}</Text>
                    </Table.Td>
                    <Table.Td>{t.meaning}</Table.Td>
                    <Table.Td>
                      {t.status === 'open' ? <Countdown dueAt={t.dueAt} label={t.title} /> : <Time value={t.dueAt} />}
                      {t.overdue ? (
                        <Badge color="red" variant="filled" ml={4}>
                          overdue
                        </Badge>
                      ) : null}
                    </Table.Td>
                    <Table.Td>
                      {t.signatures}/{t.signaturesRequired}
                    </Table.Td>
                    <Table.Td>
                      {t.status === 'open' && !hasRole('auditor') ? (
                        <Button size="xs" onClick={() => void open(t)} aria-label={`Sign ${t.title} of ${t.deviationId}`}>
                          Sign…
                        </Button>
                      ) : null}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </ScrollBox>
        )}
      </QueryView>
      <SignDialog request={signing} opened={signing !== null} onClose={() => setSigning(null)} onSigned={refresh} />
    </Stack>
  );
}
