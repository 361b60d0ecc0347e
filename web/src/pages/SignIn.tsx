import { Alert, Button, Center, Paper, PasswordInput, Stack, Text, TextInput, Title } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { loginRequestSchema } from '@domain/users';
import { explain, fieldErrors } from '../lib/api';
import { signIn } from '../session';

const REASONS: Record<string, string> = {
  expired: 'Your session ended (it expired or was signed out elsewhere). Sign in again to go back to the page you were on.',
  idle: 'You were signed out after a period without activity. Sign in again to go back to the page you were on.',
  'signed-out': 'You are signed out.',
};

/** Where to go after sign-in: a page of the app only (never another origin). */
function safeNext(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/sign-in')) return '/';
  return next;
}

export function SignInPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [submitted, setSubmitted] = useState(false);
  const [busy, setBusy] = useState(false);
  const reason = params.get('reason');
  const parsed = loginRequestSchema.safeParse({ login, password });
  const errors =
    submitted && !parsed.success
      ? fieldErrors(parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })))
      : {};

  return (
    <Center mih="100vh" p="md" component="main">
      <Paper withBorder shadow="sm" p="xl" radius="md" w={420} maw="100%">
        <form
          noValidate
          onSubmit={async (e) => {
            e.preventDefault();
            setSubmitted(true);
            if (!parsed.success) return;
            setBusy(true);
            setError(null);
            try {
              await signIn(login, password);
              queryClient.clear();
              navigate(safeNext(params.get('next')), { replace: true });
            } catch (err) {
              setError(err);
              setPassword('');
            } finally {
              setBusy(false);
            }
          }}
        >
          <Stack>
            <Title order={1} size="h3">
              Sign in to the GxP Deviation Engine
            </Title>
            {reason && REASONS[reason] ? (
              <Alert variant="light" color={reason === 'signed-out' ? 'blue' : 'orange'} role="status">
                {REASONS[reason]}
              </Alert>
            ) : null}
            <TextInput
              label="User ID (login)"
              autoComplete="username"
              required
              value={login}
              onChange={(e) => setLogin(e.currentTarget.value)}
              error={errors.login}
              autoFocus
            />
            <PasswordInput
              label="Password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
              error={errors.password}
            />
            {error ? (
              <Alert color="red" variant="light" title={explain(error).title} role="alert">
                {explain(error).message}
              </Alert>
            ) : null}
            <Button type="submit" loading={busy} fullWidth>
              Sign in
            </Button>
            <Text size="xs">
              Your session is kept in a secure cookie this page cannot read; it ends after a period without activity and at the latest after
              the maximum session length.
            </Text>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
