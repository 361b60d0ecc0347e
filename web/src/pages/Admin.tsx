import { Alert, Badge, Button, Checkbox, Code, Group, Paper, Stack, Table, Text, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { USER_ROLES } from '@domain/roles';
import { createApiKeySchema, createUserSchema } from '@domain/users';
import { ProblemAlert, Time, ScrollBox } from '../components/common';
import { QueryView } from '../components/QueryView';
import { StepForm, toList } from '../components/StepForm';
import { api } from '../lib/api';
import { label } from '../lib/time';
import { usePermissions } from '../permissions';

interface User {
  id: string;
  login: string;
  printedName: string;
  email: string;
  roles: string[];
  active: boolean;
  signingLockedUntil?: string | null;
  createdAt?: string;
}
interface ApiKey {
  id: string;
  name: string;
  roles: string[];
  createdAt: string;
  revokedAt?: string | null;
}

function RolesEditor({ user, onDone }: { user: User; onDone: () => void }) {
  const [roles, setRoles] = useState<string[]>(user.roles);
  const save = useMutation({ mutationFn: () => api(`/users/${user.id}`, { method: 'PATCH', body: { roles } }), onSuccess: onDone });
  return (
    <Stack gap={4}>
      <Checkbox.Group value={roles} onChange={setRoles} label={`Roles of ${user.login}`}>
        <Group gap="xs" mt={4}>
          {USER_ROLES.map((r) => (
            <Checkbox key={r} value={r} label={label(r)} size="xs" />
          ))}
        </Group>
      </Checkbox.Group>
      <Group>
        <Button size="xs" onClick={() => save.mutate()} loading={save.isPending} disabled={roles.length === 0}>
          Save roles
        </Button>
      </Group>
      <ProblemAlert error={save.error} />
    </Stack>
  );
}

/** Users and roles, deactivation, signing unlock, API keys (shown once). */
export function AdminPage() {
  const { can } = usePermissions();
  const queryClient = useQueryClient();
  const admin = can('post', '/users');
  const users = useQuery({ queryKey: ['users'], queryFn: () => api<{ items: User[] }>('/users') });
  const keys = useQuery({ queryKey: ['api-keys'], queryFn: () => api<{ items: ApiKey[] }>('/api-keys'), enabled: can('get', '/api-keys') });
  const [editing, setEditing] = useState<string | null>(null);
  const [newKey, setNewKey] = useState<{ name: string; key: string } | null>(null);
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ['users'] });
    void queryClient.invalidateQueries({ queryKey: ['api-keys'] });
  };
  const act = useMutation({
    mutationFn: ({ path, method, body }: { path: string; method: 'POST' | 'PATCH' | 'DELETE'; body?: unknown }) =>
      api(path, { method, body }),
    onSuccess: refresh,
  });

  return (
    <Stack>
      <Title order={2}>Administration</Title>
      <ProblemAlert error={act.error} />
      <Paper withBorder p="sm" component="section" aria-label="Users">
        <Stack gap="xs">
          <Title order={3} size="h4">
            Users and roles
          </Title>
          <QueryView query={users} what="users" isEmpty={(data) => data.items.length === 0} emptyTitle="No user">
            {(data) => (
              <ScrollBox minWidth={760} label="Users (scrolls sideways)">
                <Table striped aria-label="Users">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>Login</Table.Th>
                      <Table.Th>Printed name</Table.Th>
                      <Table.Th>Roles</Table.Th>
                      <Table.Th>Status</Table.Th>
                      {admin ? <Table.Th>Actions</Table.Th> : null}
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {data.items.map((u) => (
                      <Table.Tr key={u.id}>
                        <Table.Td>{u.login}</Table.Td>
                        <Table.Td>{u.printedName}</Table.Td>
                        <Table.Td>
                          {editing === u.id ? (
                            <RolesEditor user={u} onDone={() => (setEditing(null), refresh())} />
                          ) : (
                            u.roles.map(label).join(', ')
                          )}
                        </Table.Td>
                        <Table.Td>
                          {u.active ? <Badge color="green">active</Badge> : <Badge color="gray">deactivated</Badge>}
                          {u.signingLockedUntil && Date.parse(u.signingLockedUntil) > Date.now() ? (
                            <Badge color="red" ml={4}>
                              signing locked
                            </Badge>
                          ) : null}
                        </Table.Td>
                        {admin ? (
                          <Table.Td>
                            <Group gap={4}>
                              <Button size="xs" variant="outline" onClick={() => setEditing(editing === u.id ? null : u.id)}>
                                {editing === u.id ? 'Close' : 'Roles…'}
                              </Button>
                              <Button
                                size="xs"
                                variant="outline"
                                color={u.active ? 'red' : 'green'}
                                onClick={() => act.mutate({ path: `/users/${u.id}`, method: 'PATCH', body: { active: !u.active } })}
                              >
                                {u.active ? 'Deactivate' : 'Reactivate'}
                              </Button>
                              <Button
                                size="xs"
                                variant="outline"
                                onClick={() => act.mutate({ path: `/users/${u.id}/unlock-signing`, method: 'POST' })}
                              >
                                Unlock signing
                              </Button>
                            </Group>
                          </Table.Td>
                        ) : null}
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </ScrollBox>
            )}
          </QueryView>
        </Stack>
      </Paper>
      {admin ? (
        <StepForm
          title="Create a user"
          schema={createUserSchema}
          fields={[
            { name: 'login', label: 'Login', kind: 'text' },
            { name: 'printedName', label: 'Printed name (shown with every signature)', kind: 'text' },
            { name: 'email', label: 'E-mail', kind: 'text' },
            { name: 'roles', label: 'Roles', kind: 'text', description: `comma-separated: ${USER_ROLES.join(', ')}` },
            { name: 'password', label: 'Initial password', kind: 'text', description: 'at least 12 characters; the person changes it' },
          ]}
          toBody={(v) => ({ login: v.login, printedName: v.printedName, email: v.email, roles: toList(v.roles), password: v.password })}
          submit={(body) => api('/users', { method: 'POST', body })}
          submitLabel="Create the user"
          onDone={refresh}
        />
      ) : null}
      {can('get', '/api-keys') ? (
        <Paper withBorder p="sm" component="section" aria-label="API keys">
          <Stack gap="xs">
            <Title order={3} size="h4">
              API keys
            </Title>
            {newKey ? (
              <Alert color="orange" variant="light" title={`API key “${newKey.name}” — shown once`} role="status">
                <Text size="sm">Copy it now: it is stored only as a hash and cannot be shown again.</Text>
                <Code block data-api-key>
                  {newKey.key}
                </Code>
                <Button size="xs" mt="xs" variant="outline" onClick={() => setNewKey(null)}>
                  I have stored it
                </Button>
              </Alert>
            ) : null}
            <QueryView query={keys} what="API keys" isEmpty={(data) => data.items.length === 0} emptyTitle="No API key yet">
              {(data) => (
                <ScrollBox minWidth={600} label="API keys (scrolls sideways)">
                  <Table striped aria-label="API keys">
                    <Table.Thead>
                      <Table.Tr>
                        <Table.Th>Name</Table.Th>
                        <Table.Th>Roles</Table.Th>
                        <Table.Th>Created</Table.Th>
                        <Table.Th>Status</Table.Th>
                      </Table.Tr>
                    </Table.Thead>
                    <Table.Tbody>
                      {data.items.map((k) => (
                        <Table.Tr key={k.id}>
                          <Table.Td>{k.name}</Table.Td>
                          <Table.Td>{k.roles.join(', ')}</Table.Td>
                          <Table.Td>
                            <Time value={k.createdAt} />
                          </Table.Td>
                          <Table.Td>
                            {k.revokedAt ? (
                              'revoked'
                            ) : admin ? (
                              <Button
                                size="xs"
                                variant="outline"
                                color="red"
                                onClick={() => act.mutate({ path: `/api-keys/${k.id}`, method: 'DELETE' })}
                              >
                                Revoke
                              </Button>
                            ) : (
                              'live'
                            )}
                          </Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                </ScrollBox>
              )}
            </QueryView>
            {admin ? (
              <StepForm
                title="Create an API key"
                schema={createApiKeySchema}
                fields={[
                  { name: 'name', label: 'Name', kind: 'text' },
                  { name: 'roles', label: 'Roles', kind: 'text', description: 'integration and/or auditor', defaultValue: 'integration' },
                ]}
                toBody={(v) => ({ name: v.name, roles: toList(v.roles) })}
                submit={(body) => api<{ name: string; key: string }>('/api-keys', { method: 'POST', body })}
                submitLabel="Create the key"
                onDone={(r) => {
                  setNewKey(r as { name: string; key: string });
                  refresh();
                }}
              />
            ) : null}
          </Stack>
        </Paper>
      ) : null}
    </Stack>
  );
}
