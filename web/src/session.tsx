import { useQuery, useQueryClient } from '@tanstack/react-query';
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useLocation, useNavigate } from 'react-router';
import { api, onApiActivity, onSessionEnded } from './lib/api';

export interface Me {
  id: string;
  login: string;
  printedName: string;
  email?: string;
  roles: string[];
  kind: 'user' | 'api_key';
  passwordMustChange?: boolean;
}

/** What the sign-in answered about the session (never the token: that stays in the HttpOnly cookie). */
interface SessionMeta {
  expiresAt: string;
  idleTimeoutSeconds: number;
}

const META_KEY = 'gxp.session.meta';
const readMeta = (): SessionMeta | null => {
  try {
    const raw = sessionStorage.getItem(META_KEY);
    return raw ? (JSON.parse(raw) as SessionMeta) : null;
  } catch {
    return null;
  }
};

interface SessionValue {
  me: Me;
  meta: SessionMeta | null;
  hasRole: (...roles: string[]) => boolean;
  signOut: (reason?: 'signed-out' | 'idle' | 'expired') => Promise<void>;
  /** Seconds until the idle sign-out, when under a minute (shown as a warning), else null. */
  idleWarning: number | null;
  stayActive: () => void;
}

const SessionContext = createContext<SessionValue | null>(null);

export function useSession(): SessionValue {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside a signed-in page');
  return s;
}

export const signInPath = (next: string, reason?: string) =>
  `/sign-in?${new URLSearchParams({ next, ...(reason ? { reason } : {}) }).toString()}`;

export async function signIn(login: string, password: string): Promise<void> {
  const answer = await api<{ expiresAt: string; idleTimeoutSeconds: number }>('/auth/login', { method: 'POST', body: { login, password } });
  sessionStorage.setItem(META_KEY, JSON.stringify({ expiresAt: answer.expiresAt, idleTimeoutSeconds: answer.idleTimeoutSeconds }));
}

/** Loads the signed-in person; sends everyone else to sign-in, keeping the page they were on. */
export function SessionProvider({ children, fallback }: { children: ReactNode; fallback: ReactNode }) {
  const navigate = useNavigate();
  const location = useLocation();
  const queryClient = useQueryClient();
  const here = `${location.pathname}${location.search}`;
  const hereRef = useRef(here);
  hereRef.current = here;
  const me = useQuery({ queryKey: ['me'], queryFn: () => api<Me>('/me'), retry: false, staleTime: 60_000 });
  const [meta, setMeta] = useState<SessionMeta | null>(readMeta);

  const leave = useCallback(
    (reason?: string) => {
      sessionStorage.removeItem(META_KEY);
      queryClient.clear();
      navigate(signInPath(hereRef.current, reason), { replace: true });
    },
    [navigate, queryClient],
  );

  const signOut = useCallback(
    async (reason: 'signed-out' | 'idle' | 'expired' = 'signed-out') => {
      await api('/auth/logout', { method: 'POST' }).catch(() => undefined);
      leave(reason);
    },
    [leave],
  );

  useEffect(() => onSessionEnded(() => leave('expired')), [leave]);
  useEffect(() => {
    // Never signed in (no session noted in this tab): straight to sign-in, without "your session ended".
    if (me.isError) leave(readMeta() ? 'expired' : undefined);
  }, [me.isError, leave]);
  useEffect(() => setMeta(readMeta()), [me.data]);

  // Idle timeout: the server ends a session after this long without a request, but polling keeps
  // it alive, so the page watches the person instead: no key, click or pointer movement for the
  // idle time signs out (after a minute's warning).
  const idleSeconds = meta?.idleTimeoutSeconds ?? 30 * 60;
  const lastActive = useRef(Date.now());
  const [idleWarning, setIdleWarning] = useState<number | null>(null);
  const stayActive = useCallback(() => {
    lastActive.current = Date.now();
    setIdleWarning(null);
  }, []);
  useEffect(() => {
    const touch = () => {
      lastActive.current = Date.now();
    };
    const events = ['keydown', 'pointerdown', 'pointermove', 'wheel', 'touchstart'] as const;
    events.forEach((e) => window.addEventListener(e, touch, { passive: true }));
    const off = onApiActivity(() => undefined);
    const timer = window.setInterval(() => {
      const left = idleSeconds - Math.floor((Date.now() - lastActive.current) / 1000);
      const absoluteLeft = meta ? Math.floor((Date.parse(meta.expiresAt) - Date.now()) / 1000) : Infinity;
      if (absoluteLeft <= 0) return void signOut('expired');
      if (left <= 0) return void signOut('idle');
      setIdleWarning(left <= 60 ? left : null);
    }, 1000);
    return () => {
      events.forEach((e) => window.removeEventListener(e, touch));
      off();
      window.clearInterval(timer);
    };
  }, [idleSeconds, meta, signOut]);

  const value = useMemo<SessionValue | null>(
    () =>
      me.data
        ? {
            me: me.data,
            meta,
            hasRole: (...roles: string[]) => roles.some((r) => me.data.roles.includes(r)),
            signOut,
            idleWarning,
            stayActive,
          }
        : null,
    [me.data, meta, signOut, idleWarning, stayActive],
  );
  if (!value) return <>{fallback}</>;
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}
