import { Stack, Title } from '@mantine/core';
import { ChartsPanel } from './monitoring/Charts';
import { KpiPanel } from './monitoring/Kpis';

/** The quality team's KPIs, and the packaging lines' control charts with their rule violations. */
export function MonitoringPage() {
  return (
    <Stack>
      <Title order={2}>Monitoring</Title>
      <KpiPanel />
      <ChartsPanel />
    </Stack>
  );
}
