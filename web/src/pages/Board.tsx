import { Anchor, Badge, Button, Group, NativeSelect, Pagination, Paper, Stack, Switch, Table, Text, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import type { z } from 'zod';
import { DEVIATION_SEARCH_MAX_LENGTH, SEVERITIES, deviationSearchSchema, packagingLineSchema } from '@domain/deviation';
import { STAGES } from '@workflows/types';
import { Countdown, EmptyState, ErrorState, LoadingState, SeverityBadge, StageBadge, Time, ScrollBox } from '../components/common';
import { api, qs } from '../lib/api';
import { label } from '../lib/time';
import { usePermissions } from '../permissions';
import type { DeviationList } from '../types';

const PAGE = 20;
/** Typing pauses this long before the board asks the server again. */
const TYPING_PAUSE_MS = 300;

/** The shared schema's objection to a typed filter, if any (an empty field is no filter). */
function problemOf(schema: z.ZodType<string>, value: string): string | undefined {
  return value.trim() ? schema.safeParse(value).error?.issues[0]?.message : undefined;
}

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
  const page = Math.max(1, Math.floor(Number(params.get('page') ?? 1)) || 1);
  const set = (k: string, v: string | boolean) => {
    const next = new URLSearchParams(params);
    if (v === '' || v === false) next.delete(k);
    else next.set(k, String(v));
    if (k !== 'page') next.delete('page');
    setParams(next, { replace: true });
  };
  const [batchDraft, setBatchDraft] = useState(f.batch);
  // The address follows every keystroke; the server is asked once typing pauses.
  const [line] = useDebouncedValue(f.line.trim(), TYPING_PAUSE_MS);
  const [q] = useDebouncedValue(f.q.trim(), TYPING_PAUSE_MS);
  const list = useQuery({
    queryKey: ['deviations', f.stage, f.severity, f.batch, f.overdue, line, q, page],
    queryFn: () =>
      api<DeviationList>(
        `/deviations${qs({
          stage: f.stage,
          severity: f.severity,
          batch: f.batch,
          line,
          q,
          overdue: f.overdue ? 'true' : undefined,
          limit: PAGE,
          offset: (page - 1) * PAGE,
        })}`,
      ),
    // While another page or filter loads, the rows shown stay (and keep counting down) instead of a spinner.
    placeholderData: keepPreviousData,
    refetchInterval: 3000,
  });
  const total = list.data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / PAGE));

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
          <TextInput
            label="Line"
            w={90}
            value={f.line}
            error={problemOf(packagingLineSchema, f.line)}
            onChange={(e) => set('line', e.currentTarget.value)}
          />
          <TextInput
            label="Search"
            placeholder="ID, title, reporter…"
            w={200}
            maxLength={DEVIATION_SEARCH_MAX_LENGTH}
            value={f.q}
            error={problemOf(deviationSearchSchema, f.q)}
            onChange={(e) => set('q', e.currentTarget.value)}
          />
          <Switch label="Overdue only" checked={f.overdue} onChange={(e) => set('overdue', e.currentTarget.checked)} mb={6} />
        </Group>
      </Paper>
      {list.isPending ? (
        <LoadingState what="deviations" />
      ) : list.isError ? (
        <ErrorState error={list.error} retry={() => void list.refetch()} />
      ) : total === 0 ? (
        <EmptyState title="No deviation matches">
          {params.size ? 'Change or clear the filters to see more.' : 'Nothing has been opened yet.'}
        </EmptyState>
      ) : list.data.items.length === 0 ? (
        <Stack align="flex-start">
          <EmptyState title={`Page ${page} is past the last page`}>
            {total} deviation{total === 1 ? '' : 's'} match on {pages} page{pages === 1 ? '' : 's'}.
          </EmptyState>
          <Button onClick={() => set('page', String(pages))}>Go to the last page</Button>
        </Stack>
      ) : (
        <>
          <Text size="sm" aria-live="polite">
            {total} deviation{total === 1 ? '' : 's'}
            {pages > 1 ? ` · page ${page} of ${pages}` : ''} · updated every 3 s
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
                {list.data.items.map((d) => (
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
