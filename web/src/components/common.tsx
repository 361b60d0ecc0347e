import { Alert, Badge, Button, Center, Loader, Paper, Stack, Text, Tooltip } from '@mantine/core';
import { useEffect, useState, type ReactNode } from 'react';
import { explain } from '../lib/api';
import { countdown } from '../lib/countdown';
import { local, utc, label } from '../lib/time';

/** A time in the viewer's zone, UTC on hover (and to assistive technology through the title). */
export function Time({ value, withUtc = false }: { value: string | null | undefined; withUtc?: boolean }) {
  if (!value) return <span>—</span>;
  return (
    <Tooltip label={utc(value)} withArrow openDelay={150}>
      <time dateTime={value} title={utc(value)} style={{ whiteSpace: 'nowrap' }}>
        {withUtc ? utc(value) : local(value)}
      </time>
    </Tooltip>
  );
}

/** The current time, ticking every `ms`. */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(t);
  }, [ms]);
  return now;
}

/** A live countdown to a deadline, to the second; overdue in red. */
export function Countdown({ dueAt, label: what, metAt }: { dueAt: string; label?: string; metAt?: string | null }) {
  const now = useNow(1000);
  if (metAt) {
    return (
      <Badge color="green" variant="light" title={`met ${utc(metAt)}`}>
        met
      </Badge>
    );
  }
  const c = countdown(dueAt, now);
  return (
    <Badge
      role="timer"
      aria-label={`${what ? `${what}: ` : ''}${c.spoken}, due ${utc(dueAt)}`}
      title={`due ${utc(dueAt)}`}
      color={c.urgency === 'overdue' ? 'red' : c.urgency === 'soon' ? 'orange' : 'blue'}
      variant={c.urgency === 'overdue' ? 'filled' : 'light'}
      style={{ fontVariantNumeric: 'tabular-nums', textTransform: 'none' }}
      data-countdown={c.seconds}
    >
      {c.text}
    </Badge>
  );
}

export function LoadingState({ what }: { what: string }) {
  return (
    <Center py="xl" role="status" aria-live="polite">
      <Stack align="center" gap="xs">
        <Loader size="md" aria-hidden />
        <Text>Loading {what}…</Text>
      </Stack>
    </Center>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <Paper withBorder p="lg" radius="md" bg="gray.0">
      <Stack gap={4} align="center">
        <Text fw={700}>{title}</Text>
        {children ? <Text size="sm">{children}</Text> : null}
      </Stack>
    </Paper>
  );
}

export function ErrorState({ error, retry }: { error: unknown; retry?: () => void }) {
  const e = explain(error);
  return (
    <Alert color="red" title={e.title} role="alert" variant="light">
      <Stack gap="xs" align="flex-start">
        <Text size="sm">{e.message}</Text>
        {retry ? (
          <Button size="xs" variant="outline" color="red" onClick={retry}>
            Try again
          </Button>
        ) : null}
      </Stack>
    </Alert>
  );
}

export function ProblemAlert({ error }: { error: unknown }) {
  if (!error) return null;
  const e = explain(error);
  return (
    <Alert color="red" title={e.title} role="alert" variant="light" data-problem>
      {e.message}
    </Alert>
  );
}

const SEVERITY_COLOURS: Record<string, string> = { critical: 'red', major: 'orange', minor: 'gray' };
export function SeverityBadge({ severity }: { severity: string }) {
  return (
    <Badge color={SEVERITY_COLOURS[severity] ?? 'gray'} variant={severity === 'critical' ? 'filled' : 'light'}>
      {severity}
    </Badge>
  );
}

export function StageBadge({ stage }: { stage: string }) {
  const colour = stage === 'closed' ? 'green' : stage === 'cancelled' ? 'gray' : stage === 'containment' ? 'red' : 'blue';
  return (
    <Badge color={colour} variant="light">
      {label(stage)}
    </Badge>
  );
}

/** A signature's manifestation (21 CFR 11.50): printed name, UTC time, meaning. */
export interface SignatureView {
  printedName: string;
  login: string;
  signedAt: string;
  meaning: string;
  recordHash?: string;
  comment?: string;
  ledgerHash?: string;
}
export function SignatureLine({ signature }: { signature: SignatureView }) {
  return (
    <Paper withBorder p="xs" radius="sm" data-signature>
      <Text size="sm">
        <strong>{signature.printedName}</strong> ({signature.login}) — <strong>{signature.meaning}</strong> — {utc(signature.signedAt)}
      </Text>
      {signature.comment ? <Text size="sm">“{signature.comment}”</Text> : null}
      <Text size="xs" className="mono">
        record SHA-256 {signature.recordHash}
      </Text>
    </Paper>
  );
}

/** A wide table that scrolls sideways on narrow screens; focusable, so the keyboard can scroll it too. */
export function ScrollBox({ minWidth, label, children }: { minWidth: number; label: string; children: ReactNode }) {
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label={label}>
      <div style={{ minWidth }}>{children}</div>
    </div>
  );
}
