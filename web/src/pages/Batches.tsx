import { Badge, Button, Group, NativeSelect, Pagination, Paper, SimpleGrid, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useSearchParams } from 'react-router';
import { DISCREPANCY_CATEGORIES } from '@domain/reconciliation-summary';
import { EmptyState, ErrorState, LoadingState, ProblemAlert, Time, ScrollBox } from '../components/common';
import { ApiError, api, qs } from '../lib/api';
import { label } from '../lib/time';
import { useSession } from '../session';
import type { BatchDocuments } from '../types';

interface Report {
  reportId: string;
  contentHash: string;
  lot: string;
  gtin: string | null;
  generatedAt: string;
  balance: Record<string, number>;
  discrepancies: Record<string, number>;
  unknownBatch: boolean;
  deviationId: string | null;
  discrepancyList: Array<{
    category: string;
    kind: string;
    sgtin: string | null;
    gtin: string | null;
    serial: string | null;
    ssccs: string[] | null;
    detail: unknown;
  }>;
  discrepancyListTruncated: boolean;
}

const PAGE = 25;
const DOCUMENTS_PAGE = 10;

/**
 * A batch's reconciliation (the quantity balance, each discrepancy category with its identifiers,
 * paged) and the EPCIS documents captured for it.
 */
export function BatchesPage() {
  const [params, setParams] = useSearchParams();
  const { hasRole } = useSession();
  const queryClient = useQueryClient();
  const lot = params.get('lot') ?? '';
  const gtin = params.get('gtin') ?? '';
  const [draftLot, setDraftLot] = useState(lot);
  const [draftGtin, setDraftGtin] = useState(gtin);
  const [category, setCategory] = useState('');
  const [page, setPage] = useState(1);
  const path = `/batches/${encodeURIComponent(lot)}/reconciliation${qs({ gtin })}`;
  const report = useQuery({ queryKey: ['reconciliation', lot, gtin], queryFn: () => api<Report>(path), enabled: Boolean(lot) });
  const run = useMutation({
    mutationFn: () => api<Report>(path, { method: 'POST' }),
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ['reconciliation', lot, gtin] }),
  });
  const notReconciled = report.error instanceof ApiError && report.error.status === 404;
  const list = (report.data?.discrepancyList ?? []).filter((d) => !category || d.category === category);
  const pages = Math.max(1, Math.ceil(list.length / PAGE));

  return (
    <Stack>
      <Title order={2}>Batches</Title>
      <Paper withBorder p="sm" component="section" aria-label="Batch">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            setPage(1);
            setParams(draftLot.trim() ? { lot: draftLot.trim(), ...(draftGtin.trim() ? { gtin: draftGtin.trim() } : {}) } : {});
          }}
        >
          <Group align="flex-end">
            <TextInput label="Lot" value={draftLot} onChange={(e) => setDraftLot(e.currentTarget.value)} w={200} />
            <TextInput
              label="GTIN (when the lot exists for several products)"
              value={draftGtin}
              onChange={(e) => setDraftGtin(e.currentTarget.value)}
              w={300}
            />
            <Button type="submit">Show the reconciliation</Button>
          </Group>
        </form>
      </Paper>
      {!lot ? (
        <EmptyState title="Choose a batch">
          Enter a lot number to see its latest stored reconciliation report. Deviations link here from their preliminary reconciliation.
        </EmptyState>
      ) : report.isPending ? (
        <LoadingState what={`the reconciliation of ${lot}`} />
      ) : notReconciled ? (
        <Stack>
          <EmptyState title={`${lot} has not been reconciled yet`}>{(report.error as ApiError).detail}</EmptyState>
          {!hasRole('auditor') || hasRole('qa_lead', 'qa_head', 'production') ? (
            <Group>
              <Button onClick={() => run.mutate()} loading={run.isPending}>
                Run a reconciliation now
              </Button>
            </Group>
          ) : null}
          <ProblemAlert error={run.error} />
        </Stack>
      ) : report.isError ? (
        <ErrorState error={report.error} retry={() => void report.refetch()} />
      ) : (
        <Stack>
          <Paper withBorder p="md">
            <Stack gap="xs">
              <Group>
                <Title order={3} size="h4">
                  {report.data.lot} {report.data.gtin ? `· GTIN ${report.data.gtin}` : ''}
                </Title>
                {report.data.unknownBatch ? <Badge color="orange">unknown batch</Badge> : null}
              </Group>
              <Text size="sm">
                Report {report.data.reportId}, generated <Time value={report.data.generatedAt} />
                {report.data.deviationId ? ` for ${report.data.deviationId}` : ''}
              </Text>
              <Text size="xs" className="mono">
                content SHA-256 {report.data.contentHash}
              </Text>
            </Stack>
          </Paper>
          <Title order={3} size="h4">
            Quantity balance
          </Title>
          <SimpleGrid cols={{ base: 3, md: 6 }}>
            {Object.entries(report.data.balance).map(([k, v]) => (
              <Paper key={k} withBorder p="sm" ta="center">
                <Text size="xl" fw={700} c={k === 'unaccounted' && v > 0 ? 'red.9' : undefined}>
                  {v.toLocaleString()}
                </Text>
                <Text size="sm">{label(k)}</Text>
              </Paper>
            ))}
          </SimpleGrid>
          <Title order={3} size="h4">
            Discrepancies
          </Title>
          <Group gap="xs">
            {DISCREPANCY_CATEGORIES.map((c) => (
              <Badge key={c} color={(report.data.discrepancies[c] ?? 0) > 0 ? 'red' : 'gray'} variant="light">
                {label(c)}: {report.data.discrepancies[c] ?? 0}
              </Badge>
            ))}
          </Group>
          <NativeSelect
            label="Category"
            w={240}
            data={[{ value: '', label: 'All categories' }, ...DISCREPANCY_CATEGORIES.map((c) => ({ value: c, label: label(c) }))]}
            value={category}
            onChange={(e) => {
              setCategory(e.currentTarget.value);
              setPage(1);
            }}
          />
          {list.length === 0 ? (
            <EmptyState title="No discrepancy listed" />
          ) : (
            <>
              <ScrollBox minWidth={640} label="Discrepancies (scrolls sideways)">
                <Table striped aria-label="Discrepancies">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Category</Table.Th>
                      <Table.Th>Kind</Table.Th>
                      <Table.Th>Identifier</Table.Th>
                      <Table.Th>SSCCs</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {list.slice((page - 1) * PAGE, page * PAGE).map((d, i) => (
                      <Table.Tr key={i}>
                        <Table.Td>{label(d.category)}</Table.Td>
                        <Table.Td>{label(d.kind)}</Table.Td>
                        <Table.Td className="mono">{d.sgtin ?? d.serial ?? '—'}</Table.Td>
                        <Table.Td className="mono">{(d.ssccs ?? []).join(', ') || '—'}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </ScrollBox>
              {pages > 1 ? <Pagination total={pages} value={page} onChange={setPage} /> : null}
              {report.data.discrepancyListTruncated ? <Text size="sm">The list shows the first 10,000; the counts cover all.</Text> : null}
            </>
          )}
        </Stack>
      )}
      {lot ? <CapturedDocuments key={`${lot}|${gtin}`} lot={lot} gtin={gtin} /> : null}
    </Stack>
  );
}

/** The EPCIS documents captured for the batch, newest first, a page at a time. */
function CapturedDocuments({ lot, gtin }: { lot: string; gtin: string }) {
  const [page, setPage] = useState(1);
  const documents = useQuery({
    queryKey: ['batch-documents', lot, gtin, page],
    queryFn: () =>
      api<BatchDocuments>(
        `/batches/${encodeURIComponent(lot)}/documents${qs({ gtin, limit: DOCUMENTS_PAGE, offset: (page - 1) * DOCUMENTS_PAGE })}`,
      ),
    placeholderData: keepPreviousData,
  });
  // An unknown batch: the reconciliation above has already said so.
  if (documents.error instanceof ApiError && documents.error.status === 404) return null;
  const pages = Math.max(1, Math.ceil((documents.data?.total ?? 0) / DOCUMENTS_PAGE));

  return (
    <Stack component="section" aria-label="Captured EPCIS documents">
      <Title order={3} size="h4">
        Captured EPCIS documents
      </Title>
      <Text size="sm">
        Newest first: the documents whose events commissioned units into this batch or name it as a class, and those whose error
        declarations retract such events. Packing and shipping events name units and cases, not the lot, and are not listed here.
      </Text>
      {documents.isPending ? (
        <LoadingState what="the captured documents" />
      ) : documents.isError ? (
        <ErrorState error={documents.error} retry={() => void documents.refetch()} />
      ) : documents.data.total === 0 ? (
        <EmptyState title="No EPCIS document names this batch yet" />
      ) : (
        <>
          <Text size="sm">
            {documents.data.total} document{documents.data.total === 1 ? '' : 's'}
          </Text>
          <ScrollBox minWidth={860} label="Captured EPCIS documents (scrolls sideways)">
            <Table striped aria-label="Captured EPCIS documents">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Capture</Table.Th>
                  <Table.Th>Received</Table.Th>
                  <Table.Th>Sent by</Table.Th>
                  <Table.Th>Events</Table.Th>
                  <Table.Th>Size</Table.Th>
                  <Table.Th>For this batch</Table.Th>
                  <Table.Th>SHA-256</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {documents.data.items.map((d) => (
                  <Table.Tr key={d.captureId} data-capture={d.captureId}>
                    <Table.Td className="mono">{d.captureId}</Table.Td>
                    <Table.Td>
                      <Time value={d.capturedAt} />
                    </Table.Td>
                    <Table.Td className="nowrap">{d.capturedBy}</Table.Td>
                    <Table.Td className="nowrap">
                      {d.events.toLocaleString()} ({d.newEvents.toLocaleString()} new)
                    </Table.Td>
                    <Table.Td className="nowrap">{d.bytes.toLocaleString()} bytes</Table.Td>
                    <Table.Td>
                      {[
                        d.batchEvents || d.retractions === 0 ? `${d.batchEvents} event${d.batchEvents === 1 ? '' : 's'}` : null,
                        d.retracted ? `${d.retracted} retracted since` : null,
                        d.retractions ? `retracts ${d.retractions}` : null,
                      ]
                        .filter(Boolean)
                        .join(' · ')}
                    </Table.Td>
                    <Table.Td>
                      <Text size="xs" className="mono" style={{ wordBreak: 'break-all' }}>
                        {d.sha256}
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
              onChange={setPage}
              aria-label="Pages of captured documents"
              getControlProps={(c) => ({ 'aria-label': c === 'next' ? 'Next page' : c === 'previous' ? 'Previous page' : c })}
            />
          ) : null}
        </>
      )}
    </Stack>
  );
}
