import { Alert, Anchor, Badge, Button, Group, Paper, Stack, Switch, Table, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { ProblemAlert, SignatureLine, Time, ScrollBox } from '../components/common';
import { QueryView } from '../components/QueryView';
import { api, qs } from '../lib/api';
import { timeline } from '../lib/history';
import { utc } from '../lib/time';
import { usePermissions } from '../permissions';

interface AuditRow {
  id: string;
  at?: string;
  occurredAt?: string;
  actor?: string;
  action?: string;
  deviationId?: string | null;
  [k: string]: unknown;
}

/** Audit trail (filters, paging, CSV), ledger and trail checks, security log. */
export function AuditorHome() {
  const { can } = usePermissions();
  const navigate = useNavigate();
  const [dev, setDev] = useState('');
  const [filters, setFilters] = useState({ deviation: '', actor: '', from: '', to: '' });
  const [draft, setDraft] = useState(filters);
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const iso = (v: string) => (v ? new Date(v).toISOString() : undefined);
  const query = {
    deviation: filters.deviation || undefined,
    actor: filters.actor || undefined,
    from: iso(filters.from),
    to: iso(filters.to),
  };
  const trail = useQuery({
    queryKey: ['audit', filters, cursor],
    queryFn: () => api<{ items: AuditRow[]; nextCursor: string | null }>(`/audit${qs({ ...query, limit: 50, cursor })}`),
    enabled: can('get', '/audit'),
  });
  const ledger = useMutation({
    mutationFn: () =>
      api<{ ok: boolean; checked?: number; firstBrokenId?: number; checkedAt: string; [k: string]: unknown }>('/signatures/verify'),
  });
  const trailCheck = useMutation({ mutationFn: () => api<{ ok: boolean; checkedAt: string; [k: string]: unknown }>('/audit/verify') });
  const security = useQuery({
    queryKey: ['security-log'],
    queryFn: () => api<{ items: Array<Record<string, unknown>> }>('/security-log?limit=50'),
    enabled: can('get', '/security-log'),
  });

  return (
    <Stack>
      <Title order={2}>Auditor's view</Title>
      <Paper withBorder p="sm" component="section" aria-label="Open a deviation's record">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (dev.trim()) navigate(`/audit/${dev.trim()}`);
          }}
        >
          <Group align="flex-end">
            <TextInput
              label="Deviation ID"
              placeholder="DEV-2026-000001"
              value={dev}
              onChange={(e) => setDev(e.currentTarget.value)}
              w={240}
            />
            <Button type="submit">History, replay and evidence</Button>
          </Group>
        </form>
      </Paper>
      <Group align="flex-start">
        {can('get', '/signatures/verify') ? (
          <Paper withBorder p="sm" component="section" aria-label="Signature ledger check">
            <Stack gap="xs">
              <Button onClick={() => ledger.mutate()} loading={ledger.isPending} variant="outline">
                Check the signature ledger
              </Button>
              {ledger.data ? (
                <Text size="sm" data-ledger={ledger.data.ok ? 'ok' : 'broken'}>
                  <Badge color={ledger.data.ok ? 'green' : 'red'}>{ledger.data.ok ? 'chain intact' : 'chain broken'}</Badge>{' '}
                  {JSON.stringify({ ...ledger.data, ok: undefined, checkedAt: undefined })} at {utc(ledger.data.checkedAt)}
                </Text>
              ) : null}
              <ProblemAlert error={ledger.error} />
            </Stack>
          </Paper>
        ) : null}
        {can('get', '/audit/verify') ? (
          <Paper withBorder p="sm" component="section" aria-label="Audit trail check">
            <Stack gap="xs">
              <Button onClick={() => trailCheck.mutate()} loading={trailCheck.isPending} variant="outline">
                Check the audit trail chain
              </Button>
              {trailCheck.data ? (
                <Text size="sm">
                  <Badge color={trailCheck.data.ok ? 'green' : 'red'}>{trailCheck.data.ok ? 'chain intact' : 'chain broken'}</Badge> at{' '}
                  {utc(trailCheck.data.checkedAt)}
                </Text>
              ) : null}
              <ProblemAlert error={trailCheck.error} />
            </Stack>
          </Paper>
        ) : null}
      </Group>
      {can('get', '/audit') ? (
        <Paper withBorder p="sm" component="section" aria-label="Audit trail">
          <Stack gap="sm">
            <Title order={3} size="h4">
              Audit trail
            </Title>
            <form
              onSubmit={(e) => {
                e.preventDefault();
                setCursors([]);
                setFilters(draft);
              }}
            >
              <Group align="flex-end">
                <TextInput
                  label="Deviation"
                  value={draft.deviation}
                  onChange={(e) => setDraft({ ...draft, deviation: e.currentTarget.value })}
                  w={180}
                />
                <TextInput
                  label="Actor"
                  value={draft.actor}
                  onChange={(e) => setDraft({ ...draft, actor: e.currentTarget.value })}
                  w={160}
                />
                <TextInput
                  label="From (local)"
                  type="datetime-local"
                  value={draft.from}
                  onChange={(e) => setDraft({ ...draft, from: e.currentTarget.value })}
                />
                <TextInput
                  label="To (local)"
                  type="datetime-local"
                  value={draft.to}
                  onChange={(e) => setDraft({ ...draft, to: e.currentTarget.value })}
                />
                <Button type="submit">Filter</Button>
                <Anchor href={`/audit${qs({ ...query, format: 'csv' })}`} download>
                  Download CSV
                </Anchor>
              </Group>
            </form>
            <QueryView query={trail} what="the audit trail" isEmpty={(data) => data.items.length === 0} emptyTitle="No audit entry matches">
              {(data) => (
                <ScrollBox minWidth={700} label="Audit trail entries (scrolls sideways)">
                  <Table striped aria-label="Audit trail entries">
                    <Table.Thead>
                      <Table.Tr>
                        <Table.Th>When</Table.Th>
                        <Table.Th>Actor</Table.Th>
                        <Table.Th>Action</Table.Th>
                        <Table.Th>Deviation</Table.Th>
                      </Table.Tr>
                    </Table.Thead>
                    <Table.Tbody>
                      {data.items.map((r) => (
                        <Table.Tr key={r.id}>
                          <Table.Td>
                            <Time value={String(r.at ?? r.occurredAt ?? '')} />
                          </Table.Td>
                          <Table.Td>{String(r.actor ?? '')}</Table.Td>
                          <Table.Td>{String(r.action ?? '')}</Table.Td>
                          <Table.Td>{r.deviationId ? String(r.deviationId) : '—'}</Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                </ScrollBox>
              )}
            </QueryView>
            <Group>
              <Button variant="default" size="xs" disabled={cursors.length === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>
                Previous page
              </Button>
              <Button
                variant="default"
                size="xs"
                disabled={!trail.data?.nextCursor}
                onClick={() => trail.data?.nextCursor && setCursors((c) => [...c, trail.data.nextCursor!])}
              >
                Next page
              </Button>
            </Group>
          </Stack>
        </Paper>
      ) : null}
      {can('get', '/security-log') ? (
        <Paper withBorder p="sm" component="section" aria-label="Security log">
          <Stack gap="xs">
            <Title order={3} size="h4">
              Security log
            </Title>
            <QueryView query={security} what="the security log" isEmpty={(data) => data.items.length === 0} emptyTitle="No security event">
              {(data) => (
                <ScrollBox minWidth={600} label="Security events (scrolls sideways)">
                  <Table striped aria-label="Security events">
                    <Table.Thead>
                      <Table.Tr>
                        <Table.Th>When</Table.Th>
                        <Table.Th>Event</Table.Th>
                        <Table.Th>Login</Table.Th>
                        <Table.Th>Address</Table.Th>
                      </Table.Tr>
                    </Table.Thead>
                    <Table.Tbody>
                      {data.items.map((e, i) => (
                        <Table.Tr key={i}>
                          <Table.Td>
                            <Time value={String(e.at ?? e.occurredAt ?? '')} />
                          </Table.Td>
                          <Table.Td>{String(e.event ?? '')}</Table.Td>
                          <Table.Td>{String(e.login ?? '')}</Table.Td>
                          <Table.Td>{String(e.remoteAddress ?? '')}</Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                </ScrollBox>
              )}
            </QueryView>
          </Stack>
        </Paper>
      ) : null}
    </Stack>
  );
}

interface HistoryRecord {
  workflowId: string;
  source: string;
  runs: Array<{ runId: string; sha256: string; events: Array<{ eventId: string; eventTime: string; eventType: string }> }>;
}
interface Verdict {
  workflowId: string;
  deterministic: boolean;
  codeSha256: string;
  runs: Array<{ runId: string; deterministic: boolean; error?: string }>;
  historySource: string;
  replayedAt: string;
}

/** One deviation as an auditor reads it: the history timeline, the raw export, the replay verdict, the evidence package. */
export function AuditorDeviation() {
  const { id = '' } = useParams();
  const [mechanics, setMechanics] = useState(false);
  const history = useQuery({ queryKey: ['history', id], queryFn: () => api<HistoryRecord>(`/deviations/${id}/history`) });
  const replay = useMutation({ mutationFn: () => api<Verdict>(`/deviations/${id}/replay`, { method: 'POST' }) });

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Auditor's view — {id}</Title>
        <Anchor component={Link} to={`/deviations/${id}`}>
          The deviation's page
        </Anchor>
      </Group>
      <Paper withBorder p="sm" component="section" aria-label="Exports and replay">
        <Stack gap="xs">
          <Group>
            <Button component="a" href={`/deviations/${id}/history`} download={`${id}-history.json`} variant="outline">
              Raw history (JSON)
            </Button>
            <Button component="a" href={`/deviations/${id}/evidence`} download variant="outline" data-evidence-link>
              Download the evidence package
            </Button>
            <Button onClick={() => replay.mutate()} loading={replay.isPending}>
              Replay against the deployed code
            </Button>
          </Group>
          {replay.data ? (
            <Alert
              color={replay.data.deterministic ? 'green' : 'red'}
              variant="light"
              title={replay.data.deterministic ? 'Replay: deterministic' : 'Replay: NOT deterministic'}
              data-replay={replay.data.deterministic ? 'ok' : 'failed'}
              role="status"
            >
              <Text size="sm">
                {replay.data.runs.length} run(s) replayed from the {replay.data.historySource} at {utc(replay.data.replayedAt)} against
                workflow code SHA-256{' '}
                <span className="mono" data-code-hash>
                  {replay.data.codeSha256}
                </span>
              </Text>
              {replay.data.runs
                .filter((r) => !r.deterministic)
                .map((r) => (
                  <Text key={r.runId} size="sm">
                    {r.runId}: {r.error}
                  </Text>
                ))}
            </Alert>
          ) : null}
          <ProblemAlert error={replay.error} />
        </Stack>
      </Paper>
      <Group justify="space-between">
        <Title order={3} size="h4">
          History timeline
        </Title>
        <Switch
          label="Show timers started and other mechanics"
          checked={mechanics}
          onChange={(e) => setMechanics(e.currentTarget.checked)}
        />
      </Group>
      <QueryView query={history} what="the history">
        {(data) =>
          data.runs.map((run, i) => {
            const entries = timeline(run.events as never, mechanics);
            return (
              <Paper key={run.runId} withBorder p="sm" component="section" aria-label={`Run ${i + 1}`}>
                <Text size="sm" fw={700}>
                  Run {i + 1} of {data.runs.length} ({data.source}) · {run.events.length} events ·{' '}
                  <span className="mono">sha256 {run.sha256}</span>
                </Text>
                <ol style={{ listStyle: 'none', padding: 0 }} aria-label="Events" data-timeline>
                  {entries.map((e) => (
                    <li key={e.eventId} className="timeline-event" data-kind={e.kind}>
                      <Text size="sm">
                        <Time value={e.at} /> · <strong>{e.title}</strong>
                        {e.who ? ` — ${e.who}` : ''}{' '}
                        <Text span size="xs">
                          #{e.eventId}
                        </Text>
                      </Text>
                      {e.detail ? <Text size="xs">{e.detail}</Text> : null}
                      {e.signature ? <SignatureLine signature={e.signature} /> : null}
                    </li>
                  ))}
                </ol>
              </Paper>
            );
          })
        }
      </QueryView>
    </Stack>
  );
}
