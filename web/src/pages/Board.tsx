import { Anchor, Badge, Button, Group, NativeSelect, Pagination, Paper, Stack, Switch, Table, Text, TextInput, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { SEVERITIES } from '@domain/deviation';
import { STAGES } from '@workflows/types';
import { Countdown, EmptyState, ErrorState, LoadingState, SeverityBadge, StageBadge, Time, ScrollBox } from '../components/common';
import { api, qs } from '../lib/api';
import { label } from '../lib/time';
import { usePermissions } from '../permissions';
import type { BoardItem } from '../types';

const PAGE = 20;
/** The server filters stage, severity, batch and overdue; line and free text are matched here over what it returned. */
const FETCH_LIMIT = 500;

export function BoardPage() {
  const [params, setParams] = useSearchParams();
  const { can } = usePermissions();
  const f = {
    stage: params.get('stage') ?? '',
    severity: params.get('severity') ?? '',
    batch: params.get('batch') ?? '',
    line: params.get('line') ?? '',
    q: params.get('q') ?? '',
    overdue: params.get('overdue') === 'true',
  };
  const page = Math.max(1, Number(params.get('page') ?? 1));
  const set = (k: string, v: string | boolean) => {
    const next = new URLSearchParams(params);
    if (v === '' || v === false) next.delete(k);
    else next.set(k, String(v));
    if (k !== 'page') next.delete('page');
    setParams(next, { replace: true });
  };
  const [batchDraft, setBatchDraft] = useState(f.batch);
  const list = useQuery({
    queryKey: ['deviations', f.stage, f.severity, f.batch, f.overdue],
    queryFn: () =>
      api<{ items: BoardItem[] }>(
        `/deviations${qs({ stage: f.stage, severity: f.severity, batch: f.batch, overdue: f.overdue ? 'true' : undefined, limit: FETCH_LIMIT })}`,
      ),
    refetchInterval: 3000,
  });
  const rows = useMemo(() => {
    const q = f.q.trim().toLowerCase();
    const line = f.line.trim().toLowerCase();
    return (list.data?.items ?? []).filter(
      (d) =>
        (!line || d.lines.some((l) => l.toLowerCase() === line)) &&
        (!q || [d.id, d.title, d.symptom, d.reportedBy, ...d.batches, ...d.lines].some((s) => s.toLowerCase().includes(q))),
    );
  }, [list.data, f.q, f.line]);
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  const shown = rows.slice((page - 1) * PAGE, page * PAGE);

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Deviation board</Title>
        {can('post', '/deviations') ? (
          <Button component={Link} to="/deviations/new">
            Open a deviation
          </Button>
        ) : null}
      </Group>
      <Paper withBorder p="sm" component="section" aria-label="Filters">
        <Group align="flex-end" gap="sm">
          <NativeSelect
            label="Stage"
            w={170}
            data={[{ value: '', label: 'Any stage' }, ...STAGES.map((s) => ({ value: s, label: label(s) }))]}
            value={f.stage}
            onChange={(e) => set('stage', e.currentTarget.value)}
          />
          <NativeSelect
            label="Severity"
            w={130}
            data={[{ value: '', label: 'Any' }, ...SEVERITIES.map((s) => ({ value: s, label: s }))]}
            value={f.severity}
            onChange={(e) => set('severity', e.currentTarget.value)}
          />
          <TextInput
            label="Batch (lot)"
            w={140}
            value={batchDraft}
            onChange={(e) => setBatchDraft(e.currentTarget.value)}
            onBlur={() => set('batch', batchDraft.trim())}
            onKeyDown={(e) => e.key === 'Enter' && set('batch', batchDraft.trim())}
          />
          <TextInput label="Line" w={90} value={f.line} onChange={(e) => set('line', e.currentTarget.value)} />
          <TextInput
            label="Search"
            placeholder="ID, title, reporter…"
            w={200}
            value={f.q}
            onChange={(e) => set('q', e.currentTarget.value)}
          />
          <Switch label="Overdue only" checked={f.overdue} onChange={(e) => set('overdue', e.currentTarget.checked)} mb={6} />
        </Group>
      </Paper>
      {list.isPending ? (
        <LoadingState what="deviations" />
      ) : list.isError ? (
        <ErrorState error={list.error} retry={() => void list.refetch()} />
      ) : rows.length === 0 ? (
        <EmptyState title="No deviation matches">
          {params.size ? 'Change or clear the filters to see more.' : 'Nothing has been opened yet.'}
        </EmptyState>
      ) : (
        <>
          <Text size="sm" aria-live="polite">
            {rows.length} deviation{rows.length === 1 ? '' : 's'}
            {list.data.items.length === FETCH_LIMIT ? ` (the ${FETCH_LIMIT} most recent; narrow the filters to see older ones)` : ''} ·
            updated every 3 s
          </Text>
          <ScrollBox minWidth={720} label="Deviations (scrolls sideways)">
            <Table striped highlightOnHover verticalSpacing="xs" aria-label="Deviations">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Deviation</Table.Th>
                  <Table.Th>Severity</Table.Th>
                  <Table.Th>Stage</Table.Th>
                  <Table.Th>Batches · lines</Table.Th>
                  <Table.Th>Next deadline</Table.Th>
                  <Table.Th>Detected</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {shown.map((d) => (
                  <Table.Tr key={d.id} data-deviation={d.id}>
                    <Table.Td>
                      <Anchor component={Link} to={`/deviations/${d.id}`} fw={700} className="nowrap">
                        {d.id}
                      </Anchor>
                      <Text size="sm">{d.title}</Text>
                    </Table.Td>
                    <Table.Td>
                      <SeverityBadge severity={d.severity} />
                    </Table.Td>
                    <Table.Td>
                      <Stack gap={4} align="flex-start">
                        <StageBadge stage={d.stage} />
                        {d.overdue ? (
                          <Badge color="red" variant="filled">
                            overdue
                          </Badge>
                        ) : null}
                        {d.slaBreached ? (
                          <Badge
                            color="red"
                            variant="outline"
                            title="A service-level clock ran out (e.g. containment not verified in time)"
                          >
                            SLA breach
                          </Badge>
                        ) : null}
                      </Stack>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm">{d.batches.join(', ')}</Text>
                      <Text size="xs">{d.lines.join(', ') || '—'}</Text>
                    </Table.Td>
                    <Table.Td>
                      {d.nextDueAt ? (
                        <Stack gap={2} align="flex-start">
                          <Text size="xs">{d.stage === 'containment' || d.stage === 'detection' ? 'Containment' : 'Next due'}</Text>
                          <Countdown dueAt={d.nextDueAt} label={d.stage === 'containment' ? 'containment' : 'next deadline'} />
                        </Stack>
                      ) : (
                        <Text size="sm">—</Text>
                      )}
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm">
                        <Time value={d.detectedAt} />
                      </Text>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </ScrollBox>
          {pages > 1 ? (
            <Pagination
              total={pages}
              value={page}
              onChange={(p) => set('page', String(p))}
              aria-label="Pages"
              getControlProps={(c) => ({ 'aria-label': c === 'next' ? 'Next page' : c === 'previous' ? 'Previous page' : c })}
            />
          ) : null}
        </>
      )}
    </Stack>
  );
}
