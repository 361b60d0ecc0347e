import { Alert, Button, Code, Group, Modal, PasswordInput, SegmentedControl, Stack, Text, TextInput, Textarea } from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { ApiError, explain } from '../lib/api';
import { recordHash } from '../lib/record-hash';
import { utc } from '../lib/time';
import { useSession } from '../session';
import { SignatureLine, type SignatureView } from './common';

export const LEGAL_STATEMENT =
  'I understand that this electronic signature is the legally binding equivalent of my handwritten signature (21 CFR 11.100(c)). ' +
  'By entering my user ID and password I sign the record shown above with the meaning stated; my printed name, the date and time in UTC and the meaning are kept with it (21 CFR 11.50).';

export interface SignRequest {
  /** What the person signs, in words: "Verify containment (holds, trace, alert)". */
  title: string;
  meaning: 'reviewed' | 'approved' | 'verified';
  /** The record the signature is bound to, exactly as the server will hash it (null when unknown). */
  record: Record<string, unknown> | null;
  /** Sends the signature; `extra` is the comment (or the reason, when rejecting). */
  sign: (credentials: { login: string; password: string }, comment: string | undefined) => Promise<unknown>;
  /** When the step may be rejected instead (sign-off tasks): sends the rejection with its reason. */
  reject?: (credentials: { login: string; password: string }, reason: string) => Promise<unknown>;
}

/**
 * The signing dialog (21 CFR 11.50, 11.200): what is signed (the record and its SHA-256), the
 * meaning, the legal statement, and the signer's user ID and password again. A wrong password is
 * said to be wrong, nothing is signed, and the attempt counts toward the signing lockout.
 */
export function SignDialog({
  request,
  opened,
  onClose,
  onSigned,
}: {
  request: SignRequest | null;
  opened: boolean;
  onClose: () => void;
  onSigned: () => void;
}) {
  const { me } = useSession();
  const [mode, setMode] = useState<'sign' | 'reject'>('sign');
  const [login, setLogin] = useState(me.login);
  const [password, setPassword] = useState('');
  const [comment, setComment] = useState('');
  const [touched, setTouched] = useState(false);
  const hash = useQuery({
    queryKey: ['record-hash', request?.record],
    queryFn: () => recordHash(request?.record ?? null),
    enabled: Boolean(request?.record),
  });
  useEffect(() => {
    if (opened) {
      setMode('sign');
      setPassword('');
      setComment('');
      setTouched(false);
      setLogin(me.login);
    }
  }, [opened, me.login]);
  const mutation = useMutation({
    mutationFn: async () => {
      if (!request) return null;
      if (mode === 'reject') return request.reject?.({ login, password }, comment.trim());
      return request.sign({ login, password }, comment.trim() || undefined);
    },
    onError: () => setPassword(''),
  });
  useEffect(() => mutation.reset(), [opened]); // eslint-disable-line react-hooks/exhaustive-deps
  const result = mutation.data as { signature?: SignatureView } | null | undefined;
  const signed = mutation.isSuccess;
  const reasonMissing = mode === 'reject' && !comment.trim();
  const err = mutation.error;
  const wrongPassword = err instanceof ApiError && err.status === 401;

  return (
    <Modal
      opened={opened}
      onClose={signed ? () => (onSigned(), onClose()) : onClose}
      title={request ? `Electronic signature — ${request.title}` : 'Electronic signature'}
      size="lg"
      centered
      closeButtonProps={{ 'aria-label': 'Close the signing dialog' }}
    >
      {request ? (
        <Stack gap="sm">
          {signed ? (
            <>
              <Alert color="green" variant="light" title={mode === 'reject' ? 'Rejected and signed' : 'Signed'} role="status">
                {mode === 'reject' ? 'The rejection is recorded with your signature.' : 'Your signature is recorded.'}
              </Alert>
              {result?.signature ? <SignatureLine signature={result.signature} /> : null}
              {result?.signature && hash.data ? (
                <Text size="sm">
                  {result.signature.recordHash === hash.data
                    ? 'The server signed the record shown (same SHA-256).'
                    : 'The record changed between display and signing: the signature is bound to the record as the server held it (hash above).'}
                </Text>
              ) : null}
              <Group justify="flex-end">
                <Button onClick={() => (onSigned(), onClose())}>Close</Button>
              </Group>
            </>
          ) : (
            <form
              noValidate
              onSubmit={(e) => {
                e.preventDefault();
                setTouched(true);
                if (!password || !login || reasonMissing) return;
                mutation.mutate();
              }}
            >
              <Stack gap="sm">
                {request.reject ? (
                  <SegmentedControl
                    aria-label="Sign or reject"
                    value={mode}
                    onChange={(v) => setMode(v as 'sign' | 'reject')}
                    data={[
                      { value: 'sign', label: `Sign (${request.meaning})` },
                      { value: 'reject', label: 'Reject with a reason' },
                    ]}
                  />
                ) : null}
                <Text size="sm" fw={700}>
                  What you sign
                </Text>
                <div role="region" aria-label="The record you sign" tabIndex={0} style={{ maxHeight: 220, overflow: 'auto' }}>
                  <Code block className="mono" data-record style={{ overflow: 'visible', whiteSpace: 'pre-wrap' }}>
                    {request.record ? JSON.stringify(request.record, null, 2) : 'The record is computed by the server at signing.'}
                  </Code>
                </div>
                <Text size="sm">
                  Record SHA-256:{' '}
                  <span className="mono" data-record-hash>
                    {hash.data ?? (request.record ? 'computed by the server at signing' : '—')}
                  </span>
                </Text>
                <Text size="sm">
                  Meaning: <strong data-meaning>{mode === 'reject' ? 'rejected' : request.meaning}</strong> · time of signing: recorded in
                  UTC by the server (now {utc(new Date())})
                </Text>
                <Alert variant="light" color="blue" title="Legal statement">
                  <Text size="sm" data-legal>
                    {LEGAL_STATEMENT}
                  </Text>
                </Alert>
                <Textarea
                  label={mode === 'reject' ? 'Reason for rejection' : 'Comment (optional)'}
                  required={mode === 'reject'}
                  value={comment}
                  onChange={(e) => setComment(e.currentTarget.value)}
                  error={touched && reasonMissing ? 'a rejection needs a reason' : undefined}
                  autosize
                  minRows={2}
                />
                <TextInput
                  label="User ID (login)"
                  required
                  autoComplete="username"
                  value={login}
                  onChange={(e) => setLogin(e.currentTarget.value)}
                  error={touched && !login ? 'your user ID' : undefined}
                />
                <PasswordInput
                  label="Password"
                  required
                  autoComplete="current-password"
                  value={password}
                  onChange={(e) => setPassword(e.currentTarget.value)}
                  error={
                    touched && !password
                      ? 'your password, again'
                      : wrongPassword
                        ? 'Wrong user ID or password: nothing was signed.'
                        : undefined
                  }
                  data-autofocus
                />
                {err && !wrongPassword ? (
                  <Alert color="red" variant="light" title={explain(err).title} role="alert">
                    {explain(err).message}
                  </Alert>
                ) : null}
                {wrongPassword ? (
                  <Alert color="red" variant="light" title="Not signed" role="alert" data-wrong-password>
                    The user ID or password is not correct, so nothing was signed. Failed attempts count toward the signing lockout: after a
                    few, signing is locked for your account for a while.
                  </Alert>
                ) : null}
                <Group justify="flex-end">
                  <Button variant="default" onClick={onClose}>
                    Cancel
                  </Button>
                  <Button type="submit" color={mode === 'reject' ? 'red' : 'blue'} loading={mutation.isPending}>
                    {mode === 'reject' ? 'Reject and sign' : `Sign: ${request.meaning}`}
                  </Button>
                </Group>
              </Stack>
            </form>
          )}
        </Stack>
      ) : null}
    </Modal>
  );
}
