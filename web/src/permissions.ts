import { useQuery } from '@tanstack/react-query';
import { api } from './lib/api';
import { useSession } from './session';

/**
 * Who may take which step comes from the API's own OpenAPI document (generated from the route
 * declarations the server enforces: "Roles: …" on every operation), so the app never keeps a copy
 * of the rules. The server still decides: a hidden form is a courtesy, a refused request the rule.
 */
interface OpenApiDoc {
  paths: Record<string, Record<string, { description?: string }>>;
}

export type RoleTable = Map<string, string[] | 'any'>;

export function roleTable(doc: OpenApiDoc): RoleTable {
  const table: RoleTable = new Map();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const m = /Roles:\s*([^\n]+)/.exec(op.description ?? '');
      table.set(`${method.toUpperCase()} ${path}`, m ? m[1]!.split(',').map((r) => r.trim()) : 'any');
    }
  }
  return table;
}

export function usePermissions() {
  const { me } = useSession();
  const doc = useQuery({ queryKey: ['openapi'], queryFn: () => api<OpenApiDoc>('/openapi.json'), staleTime: Infinity });
  const table = doc.data ? roleTable(doc.data) : null;
  /** True when the signed-in person holds a role the route lets through (path in OpenAPI form, e.g. /deviations/{id}/evidence). */
  const can = (method: string, path: string): boolean => {
    if (!table) return false;
    const roles = table.get(`${method.toUpperCase()} ${path}`);
    if (roles === undefined) return false;
    if (roles === 'any') return true;
    if (roles.some((r) => r.startsWith('any role but'))) return !me.roles.every((r) => roles.some((x) => x.endsWith(r)));
    if (roles.includes('any reader role')) return true;
    return roles.some((r) => me.roles.includes(r));
  };
  return { can, ready: Boolean(table) };
}
