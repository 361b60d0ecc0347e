import { Button, Group, Paper, SimpleGrid, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { SEVERITIES, packagingLineSchema } from '@domain/deviation';
import type { KpiDurations, KpiRate, KpiReport } from '@domain/kpis';
import { DISCREPANCY_CATEGORIES } from '@domain/reconciliation-summary';
import { QueryView } from '../../components/QueryView';
import { ScrollBox, Time } from '../../components/common';
import { api, qs } from '../../lib/api';
import { formatDuration } from '../../lib/countdown';
import { label } from '../../lib/time';

interface KpiFilters {
  /** Days as the date inputs give them (YYYY-MM-DD), taken as UTC midnights. */
  from: string;
  to: string;
  line: string;
}

const percent = (r: KpiRate) => (r.rate === null ? '—' : `${(r.rate * 100).toFixed(1)} %`);
const ofCounted = (r: KpiRate) => `${r.count} of ${r.of}`;
/** Long durations in days and hours (a closure target of 90 days), short ones to the second. */
function duration(seconds: number | null): string {
  if (seconds === null) return '—';
  const s = Math.round(seconds);
  if (s < 86_400) return formatDuration(s);
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3600);
  return hours ? `${days} d ${hours} h` : `${days} d`;
}
const median = (d: KpiDurations) => `median ${duration(d.medianSeconds)}, 90th percentile ${duration(d.p90Seconds)} (${d.count} measured)`;

/** A day typed in a date input as the window bound the API wants: that day's UTC midnight. */
const bound = (day: string) => (day ? `${day}T00:00:00Z` : undefined);

function Figure({ title, value, detail }: { title: string; value: string; detail: string }) {
  return (
    <Paper withBorder p="sm" component="figure" m={0} aria-label={title}>
      <Text size="xl" fw={700}>
        {value}
      </Text>
      <Text component="figcaption" size="sm" fw={600}>
        {title}
      </Text>
      <Text size="xs">{detail}</Text>
    </Paper>
  );
}

function CountTable({ caption, counts }: { caption: string; counts: Record<string, number> }) {
  const rows = Object.entries(counts);
  return (
    <Table striped aria-label={caption} captionSide="top">
      <Table.Caption>{caption}</Table.Caption>
      <Table.Tbody>
        {rows.length === 0 ? (
          <Table.Tr>
            <Table.Td>none</Table.Td>
          </Table.Tr>
        ) : (
          rows.map(([k, v]) => (
            <Table.Tr key={k}>
              <Table.Th scope="row">{label(k)}</Table.Th>
              <Table.Td ta="right">{v}</Table.Td>
            </Table.Tr>
          ))
        )}
      </Table.Tbody>
    </Table>
  );
}

/** GET /kpis over a window and a line (docs/kpis.md), as figures and tables. */
export function KpiPanel() {
  const [draft, setDraft] = useState<KpiFilters>({ from: '', to: '', line: '' });
  const [filters, setFilters] = useState<KpiFilters>(draft);
  const lineProblem = draft.line.trim() ? packagingLineSchema.safeParse(draft.line.trim()).error?.issues[0]?.message : undefined;
  const kpis = useQuery({
    queryKey: ['kpis', filters],
    queryFn: () => api<KpiReport>(`/kpis${qs({ from: bound(filters.from), to: bound(filters.to), line: filters.line || undefined })}`),
    placeholderData: keepPreviousData,
  });

  return (
    <Paper withBorder p="md" component="section" aria-labelledby="kpi-heading">
      <Stack>
        <Title order={3} size="h4" id="kpi-heading">
          Key performance indicators
        </Title>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (!lineProblem) setFilters({ ...draft, line: draft.line.trim() });
          }}
        >
          <Group align="flex-end">
            <TextInput
              type="date"
              label="From (UTC)"
              value={draft.from}
              onChange={(e) => setDraft({ ...draft, from: e.currentTarget.value })}
            />
            <TextInput
              type="date"
              label="To (UTC, excluded)"
              value={draft.to}
              onChange={(e) => setDraft({ ...draft, to: e.currentTarget.value })}
            />
            <TextInput
              label="Line"
              placeholder="all lines"
              value={draft.line}
              error={lineProblem}
              onChange={(e) => setDraft({ ...draft, line: e.currentTarget.value })}
              w={160}
            />
            <Button type="submit">Show the KPIs</Button>
          </Group>
        </form>
        <QueryView query={kpis} what="the KPIs">
          {(k) => (
            <Stack>
              <Text size="sm">
                From <Time value={k.window.from} withUtc /> to <Time value={k.window.to} withUtc />
                {k.window.line
                  ? `, line ${k.window.line}`
                  : k.window.site
                    ? `, site ${k.window.site} (${(k.window.siteLines ?? []).join(', ')})`
                    : ', all lines'}
              </Text>
              <SimpleGrid cols={{ base: 1, sm: 2, md: 4 }}>
                <Figure
                  title="Open deviations"
                  value={String(k.openDeviations.total)}
                  detail={`open at the window's end${k.openDeviations.stageChangedSince ? `; ${k.openDeviations.stageChangedSince} changed stage since` : ''}`}
                />
                <Figure
                  title="Containment on time"
                  value={percent(k.containment.onTime)}
                  detail={`${ofCounted(k.containment.onTime)}; ${median(k.containment.timeToContainment)}`}
                />
                <Figure
                  title="Closed within target"
                  value={percent(k.closure.withinTarget)}
                  detail={`${ofCounted(k.closure.withinTarget)} within ${duration(k.closure.targetSeconds)}; ${median(k.closure.timeToClosure)}`}
                />
                <Figure
                  title="Overdue sign-offs"
                  value={String(k.overdueSignoffs.total)}
                  detail="open sign-off tasks past their due date"
                />
                <Figure
                  title="CAPA effectiveness"
                  value={percent(k.capaEffectiveness)}
                  detail={`${ofCounted(k.capaEffectiveness)} effectiveness checks passed`}
                />
                <Figure title="Recurrence" value={percent(k.recurrence)} detail={`${ofCounted(k.recurrence)} deviations recurred`} />
                <Figure
                  title="Automated detection"
                  value={k.detection.total ? `${((k.detection.automated / k.detection.total) * 100).toFixed(1)} %` : '—'}
                  detail={`${k.detection.automated} automated, ${k.detection.manual} manual of ${k.detection.total} opened`}
                />
              </SimpleGrid>
              <SimpleGrid cols={{ base: 1, sm: 2, md: 4 }}>
                <CountTable caption="Open by stage" counts={k.openDeviations.byStage} />
                <CountTable
                  caption="Open by severity"
                  counts={Object.fromEntries(SEVERITIES.map((s) => [s, k.openDeviations.bySeverity[s] ?? 0]))}
                />
                <CountTable caption="Overdue sign-offs by gate" counts={k.overdueSignoffs.byGate} />
                <CountTable caption="Opened by source" counts={k.detection.bySource} />
              </SimpleGrid>
              <ScrollBox minWidth={720} label="Discrepancy rates (scrolls sideways)">
                <Table striped aria-label="Discrepancy rates per line and month" captionSide="top">
                  <Table.Caption>Discrepancies per 10,000 commissioned units, per line and month</Table.Caption>
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Line</Table.Th>
                      <Table.Th>Month</Table.Th>
                      <Table.Th ta="right">Batches</Table.Th>
                      <Table.Th ta="right">Commissioned</Table.Th>
                      {DISCREPANCY_CATEGORIES.map((c) => (
                        <Table.Th key={c} ta="right">
                          {label(c)}
                        </Table.Th>
                      ))}
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {k.discrepancyRates.length === 0 ? (
                      <Table.Tr>
                        <Table.Td colSpan={4 + DISCREPANCY_CATEGORIES.length}>No batch reconciled in the window.</Table.Td>
                      </Table.Tr>
                    ) : (
                      k.discrepancyRates.map((r) => (
                        <Table.Tr key={`${r.line}|${r.month}`}>
                          <Table.Td className="nowrap">{r.line}</Table.Td>
                          <Table.Td className="nowrap">{r.month}</Table.Td>
                          <Table.Td ta="right">{r.batches}</Table.Td>
                          <Table.Td ta="right">{r.commissioned.toLocaleString()}</Table.Td>
                          {DISCREPANCY_CATEGORIES.map((c) => {
                            const rate = r.rates[c];
                            return (
                              <Table.Td key={c} ta="right" title={`${r.discrepancies[c]} found`}>
                                {rate === null ? '—' : (rate * 10_000).toFixed(2)}
                              </Table.Td>
                            );
                          })}
                        </Table.Tr>
                      ))
                    )}
                  </Table.Tbody>
                </Table>
              </ScrollBox>
            </Stack>
          )}
        </QueryView>
      </Stack>
    </Paper>
  );
}
