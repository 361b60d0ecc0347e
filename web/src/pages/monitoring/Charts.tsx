import { Anchor, Badge, Button, Group, NativeSelect, Pagination, Paper, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { keepPreviousData, useQueries, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { packagingLineSchema } from '@domain/deviation';
import { MONITORED_METRICS, MONITORED_METRIC_IDS } from '@domain/monitoring/metrics';
import { QueryView } from '../../components/QueryView';
import { ScrollBox, Time } from '../../components/common';
import { api, qs } from '../../lib/api';
import type { ChartDetail, ChartSummary } from '../../types';

const PAGE = 20;
const STATUS_COLOUR: Record<ChartSummary['status'], string> = { collecting: 'gray', ready: 'yellow', approved: 'green' };

const chartPath = (id: string) => `/spc/charts/${encodeURIComponent(id)}`;
const product = (c: Pick<ChartSummary, 'gtin'>) => (c.gtin ? `GTIN ${c.gtin}` : 'all products');
const detailQuery = (id: string) => ({ queryKey: ['spc-chart', id], queryFn: () => api<ChartDetail>(chartPath(id)) });

/** The packaging lines' control charts, filtered by line and metric; the one chosen drawn below with its violations. */
export function ChartsPanel() {
  const [params, setParams] = useSearchParams();
  const line = params.get('line') ?? '';
  const metric = params.get('metric') ?? '';
  const selected = params.get('chart') ?? '';
  const [draftLine, setDraftLine] = useState(line);
  const [page, setPage] = useState(1);
  const lineProblem = draftLine.trim() ? packagingLineSchema.safeParse(draftLine.trim()).error?.issues[0]?.message : undefined;
  const charts = useQuery({
    queryKey: ['spc-charts', line, metric],
    queryFn: () => api<{ items: ChartSummary[] }>(`/spc/charts${qs({ line: line || undefined, metric: metric || undefined })}`),
    placeholderData: keepPreviousData,
  });
  const items = charts.data?.items ?? [];
  const pages = Math.max(1, Math.ceil(items.length / PAGE));
  const shown = items.slice((page - 1) * PAGE, page * PAGE);
  // Only an approved chart judges its points: its violations come with its detail, asked for the charts on this page only.
  const details = useQueries({ queries: shown.filter((c) => c.status === 'approved').map((c) => detailQuery(c.id)) });
  const violationsOf = (c: ChartSummary): string => {
    if (c.status !== 'approved') return 'not judged (phase I)';
    const d = details.find((q) => q.data?.id === c.id)?.data;
    return d ? String(d.violations.length) : '…';
  };
  const choose = (next: Record<string, string>) => {
    const merged = { line, metric, chart: selected, ...next };
    setParams(Object.fromEntries(Object.entries(merged).filter(([, v]) => v)));
  };

  return (
    <Stack>
      <Paper withBorder p="md" component="section" aria-labelledby="charts-heading">
        <Stack>
          <Title order={3} size="h4" id="charts-heading">
            Control charts
          </Title>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              if (lineProblem) return;
              setPage(1);
              choose({ line: draftLine.trim() });
            }}
          >
            <Group align="flex-end">
              <TextInput
                label="Line"
                placeholder="all lines"
                value={draftLine}
                error={lineProblem}
                onChange={(e) => setDraftLine(e.currentTarget.value)}
                w={200}
              />
              <NativeSelect
                label="Metric"
                w={280}
                data={[
                  { value: '', label: 'All metrics' },
                  ...MONITORED_METRIC_IDS.map((m) => ({ value: m, label: MONITORED_METRICS[m].label })),
                ]}
                value={metric}
                onChange={(e) => {
                  setPage(1);
                  choose({ metric: e.currentTarget.value });
                }}
              />
              <Button type="submit">Show the charts</Button>
            </Group>
          </form>
          <QueryView
            query={charts}
            what="control charts"
            isEmpty={(d) => d.items.length === 0}
            emptyTitle="No control chart"
            emptyHint="A chart starts with the first reconciled batch of a watched line, one per charted metric, for the line and for each product made on it."
          >
            {() => (
              <>
                <ScrollBox minWidth={760} label="Control charts (scroll sideways)">
                  <Table striped aria-label="Control charts">
                    <Table.Thead>
                      <Table.Tr>
                        <Table.Th>Line</Table.Th>
                        <Table.Th>Product</Table.Th>
                        <Table.Th>Metric</Table.Th>
                        <Table.Th>Status</Table.Th>
                        <Table.Th ta="right">Points</Table.Th>
                        <Table.Th>Violations</Table.Th>
                        <Table.Th>Last point</Table.Th>
                        <Table.Th>Chart</Table.Th>
                      </Table.Tr>
                    </Table.Thead>
                    <Table.Tbody>
                      {shown.map((c) => (
                        <Table.Tr key={c.id} aria-selected={c.id === selected}>
                          <Table.Td className="nowrap">{c.line}</Table.Td>
                          <Table.Td className={c.gtin ? 'mono' : undefined}>{product(c)}</Table.Td>
                          <Table.Td>{c.label}</Table.Td>
                          <Table.Td>
                            <Badge color={STATUS_COLOUR[c.status]} variant="light">
                              {c.status}
                            </Badge>
                          </Table.Td>
                          <Table.Td ta="right">{c.pointCount}</Table.Td>
                          <Table.Td>{violationsOf(c)}</Table.Td>
                          <Table.Td>
                            <Time value={c.lastPointAt} />
                          </Table.Td>
                          <Table.Td>
                            <Button
                              size="xs"
                              variant={c.id === selected ? 'filled' : 'light'}
                              aria-pressed={c.id === selected}
                              aria-label={`Show the chart ${c.label} of ${c.line}, ${product(c)}`}
                              onClick={() => choose({ chart: c.id })}
                            >
                              Show
                            </Button>
                          </Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                </ScrollBox>
                {pages > 1 ? <Pagination total={pages} value={page} onChange={setPage} aria-label="Chart pages" /> : null}
              </>
            )}
          </QueryView>
        </Stack>
      </Paper>
      {selected ? <ChartView key={selected} id={selected} /> : null}
    </Stack>
  );
}

/** What the drawing shows, said for those who cannot see it. */
function altText(c: ChartDetail): string {
  const limits = c.limitsFrom
    ? `centre line ${c.limitsFrom.centre.toPrecision(3)}${c.provisional ? ' (provisional)' : ''}`
    : `no limits yet${c.limitsProblem ? `: ${c.limitsProblem}` : ''}`;
  const judged = c.phase === 'II' ? `${c.violations.length} rule violation(s), listed below` : 'phase I, no rule judged';
  return `Control chart of ${c.label} on line ${c.line}, ${product(c)}: ${c.points.length} point(s), ${limits}; ${judged}.`;
}

/** One chart: the API's drawing and the violations of its rules. */
function ChartView({ id }: { id: string }) {
  const chart = useQuery(detailQuery(id));
  return (
    <Paper withBorder p="md" component="section" aria-label="The chosen control chart">
      <QueryView query={chart} what="the control chart">
        {(c) => (
          <Stack>
            <Group>
              <Title order={3} size="h4">
                {c.label} · {c.line} · {product(c)}
              </Title>
              <Badge color={STATUS_COLOUR[c.status]} variant="light">
                {c.status}
              </Badge>
              <Text size="sm">
                phase {c.phase}
                {c.kind ? `, ${c.kind} chart` : ''}
              </Text>
            </Group>
            <ScrollBox minWidth={640} label="The chart (scrolls sideways)">
              <img src={`${chartPath(c.id)}/svg`} alt={altText(c)} style={{ width: '100%', height: 'auto', display: 'block' }} />
            </ScrollBox>
            {c.phase === 'I' ? (
              <Text size="sm">
                Phase I: the centre line and limits are drawn from the points so far, for a first look; nothing is judged until QA approves
                a baseline.
              </Text>
            ) : c.violations.length === 0 ? (
              <Text size="sm">No rule violation on this chart.</Text>
            ) : (
              <ScrollBox minWidth={640} label="Rule violations (scrolls sideways)">
                <Table striped aria-label="Rule violations">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Rule</Table.Th>
                      <Table.Th>Side</Table.Th>
                      <Table.Th>Lot</Table.Th>
                      <Table.Th>Points of the pattern</Table.Th>
                      <Table.Th>Deviation</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {c.violations.map((v) => (
                      <Table.Tr key={`${v.rule}|${v.index}`}>
                        <Table.Td>
                          Rule {v.ruleNumber}: {v.description}
                        </Table.Td>
                        <Table.Td>{v.side}</Table.Td>
                        <Table.Td>
                          <Anchor inherit component={Link} to={`/batches?lot=${encodeURIComponent(v.lot)}`}>
                            {v.lot}
                          </Anchor>
                        </Table.Td>
                        <Table.Td className="mono">{v.points.map((p) => p.lot).join(', ')}</Table.Td>
                        <Table.Td className="nowrap">
                          {v.deviationId ? (
                            <Anchor inherit component={Link} to={`/deviations/${encodeURIComponent(v.deviationId)}`}>
                              {v.deviationId}
                            </Anchor>
                          ) : (
                            <>
                              none raised ·{' '}
                              <Anchor
                                inherit
                                component={Link}
                                to={`/?batch=${encodeURIComponent(v.lot)}`}
                                aria-label={`Deviations of lot ${v.lot} on the board`}
                              >
                                on the board
                              </Anchor>
                            </>
                          )}
                        </Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </ScrollBox>
            )}
            {c.violations.some((v) => !v.deviationId) ? (
              <Text size="sm">
                A violation names the deviation the line&apos;s monitor opened for it or linked it to. One without a deviation was not
                raised by the monitor (a baseline point, a violation that appeared when the rules changed, or a point not judged yet); its
                lot&apos;s deviations are on the board.
              </Text>
            ) : null}
          </Stack>
        )}
      </QueryView>
    </Paper>
  );
}
