import { Paper, Stack, Text, Title } from '@mantine/core';

/** The place for the monitoring issue's SPC charts and KPIs. */
export function MonitoringPage() {
  return (
    <Stack maw={760}>
      <Title order={2}>Monitoring</Title>
      <Paper withBorder p="lg" bg="gray.0" data-placeholder="monitoring">
        <Stack gap="xs">
          <Text fw={700}>Statistical process control and KPIs will appear here.</Text>
          <Text size="sm">
            When the monitoring service lands, this page draws its control charts per line and product (duplicate-serial rate, aggregation
            error rate, reconciliation balance), marks each rule violation (Western Electric / Nelson rules), and links to the deviation a
            violation opened. Until then, deviations opened by monitoring show on the board with their source.
          </Text>
        </Stack>
      </Paper>
    </Stack>
  );
}
