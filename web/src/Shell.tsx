import { Alert, AppShell, Badge, Burger, Button, Group, NavLink, Stack, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useEffect } from 'react';
import { NavLink as RouterLink, Outlet, useLocation } from 'react-router';
import { usePermissions } from './permissions';
import { useSession } from './session';

const LINKS: Array<{ to: string; label: string; show: (can: ReturnType<typeof usePermissions>['can']) => boolean }> = [
  { to: '/', label: 'Deviation board', show: (can) => can('get', '/deviations') },
  { to: '/deviations/new', label: 'Open a deviation', show: (can) => can('post', '/deviations') },
  { to: '/tasks', label: 'My tasks', show: (can) => can('get', '/tasks') },
  { to: '/batches', label: 'Batches', show: () => true },
  {
    to: '/audit',
    label: "Auditor's view",
    show: (can) => can('get', '/audit') || can('get', '/deviations/{id}/history') || can('get', '/signatures/verify'),
  },
  { to: '/admin', label: 'Administration', show: (can) => can('get', '/users') },
  { to: '/monitoring', label: 'Monitoring', show: () => true },
];

export function Shell() {
  const { me, signOut, idleWarning, stayActive } = useSession();
  const { can } = usePermissions();
  const [opened, { toggle, close }] = useDisclosure(false);
  const location = useLocation();
  useEffect(close, [location.pathname, close]);

  return (
    <AppShell header={{ height: 60 }} navbar={{ width: 220, breakpoint: 'md', collapsed: { mobile: !opened } }} padding="md">
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="md"
              size="sm"
              aria-label={opened ? 'Close navigation' : 'Open navigation'}
            />
            <Title order={1} size="h4">
              GxP Deviation Engine
            </Title>
          </Group>
          <Group gap="sm" wrap="nowrap">
            <Stack gap={0} align="flex-end" visibleFrom="sm">
              <Text size="sm" fw={700} data-printed-name>
                {me.printedName}
              </Text>
              <Text size="xs">{me.roles.map((r) => r.replace(/_/g, ' ')).join(', ')}</Text>
            </Stack>
            <Button variant="outline" size="xs" onClick={() => void signOut('signed-out')}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main navigation" component="nav">
        {LINKS.filter((l) => l.show(can)).map((l) => (
          <NavLink key={l.to} component={RouterLink} to={l.to} end={l.to === '/'} label={l.label} />
        ))}
        <Badge mt="auto" variant="light" color="gray" hiddenFrom="sm">
          {me.printedName}
        </Badge>
      </AppShell.Navbar>
      <AppShell.Main id="main" tabIndex={-1}>
        {idleWarning !== null ? (
          <Alert color="orange" variant="light" title="Still there?" mb="md" role="alert">
            <Group justify="space-between">
              <Text size="sm">
                Without activity you will be signed out in {idleWarning} s (the page you are on is kept for when you sign in again).
              </Text>
              <Button size="xs" onClick={stayActive}>
                Stay signed in
              </Button>
            </Group>
          </Alert>
        ) : null}
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
