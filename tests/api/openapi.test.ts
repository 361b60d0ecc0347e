import request from 'supertest';
import { z } from 'zod';
import { rolesCheckedBy } from '../../api/auth';
import { WEB_ROUTE_PATHS } from '../../api/web';
import { openDeviationSchema } from '../../domain/deviation';
import { startStack, type TestStack } from '../helpers/stack';

let stack: TestStack;
beforeAll(async () => {
  stack = await startStack({ worker: false });
});
afterAll(async () => {
  await stack.stop();
});

interface Layer {
  route?: { path: string; methods: Record<string, boolean>; stack: Array<{ handle: unknown }> };
  handle?: { stack?: Layer[] };
}

/** Every method and path the express app really serves, found by walking its routers, with the middleware of each. */
function servedRoutes(layers: Layer[]): Array<{ key: string; handlers: unknown[] }> {
  return layers.flatMap((layer) => {
    if (layer.route) {
      const { route } = layer;
      return Object.keys(route.methods).map((m) => ({
        key: `${m} ${route.path.replace(/:(\w+)/g, '{$1}')}`,
        handlers: route.stack.map((l) => l.handle),
      }));
    }
    return layer.handle?.stack ? servedRoutes(layer.handle.stack) : [];
  });
}

/** The API's routes: the web application's pages and files (api/web.ts) are not part of the API. */
const appRoutes = () =>
  servedRoutes((stack.app as unknown as { router: { stack: Layer[] } }).router.stack).filter(
    (r) => !WEB_ROUTE_PATHS.some((p) => r.key === `get ${p}`),
  );

describe('GET /openapi.json', () => {
  it('documents every route the API serves, and nothing it does not', async () => {
    const doc = (await request(stack.app).get('/openapi.json').expect(200)).body;
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m} ${path}`),
    );
    const served = appRoutes().map((r) => r.key);
    expect([...new Set(served)].sort()).toEqual([...new Set(documented)].sort());
  });

  it('names, for every route, exactly the roles its role check lets through', async () => {
    const doc = (await request(stack.app).get('/openapi.json').expect(200)).body;
    const documented = Object.fromEntries(
      Object.entries(doc.paths as Record<string, Record<string, { description?: string }>>).flatMap(([path, ops]) =>
        Object.entries(ops).map(([m, op]) => [
          `${m} ${path}`,
          op.description
            ?.match(/^Roles: (.+)$/)?.[1]
            ?.split(', ')
            .sort() ?? 'any signed-in caller, or public',
        ]),
      ),
    );
    const enforced = Object.fromEntries(
      appRoutes().map(({ key, handlers }) => {
        const checks = handlers.map(rolesCheckedBy).filter((roles) => roles !== undefined);
        // One role check per route at most: two would let through only callers holding a role of each.
        expect({ key, checks: checks.length }).toEqual({ key, checks: Math.min(checks.length, 1) });
        return [key, checks[0] ? [...checks[0]].sort() : 'any signed-in caller, or public'];
      }),
    );
    expect(enforced).toEqual(documented);
    // Every role-checked route is documented with its roles (not in words).
    expect(Object.values(enforced).filter((roles) => roles !== 'any signed-in caller, or public').length).toBeGreaterThan(40);
  });

  it('takes request bodies from the schemas the routes validate with', async () => {
    const doc = (await request(stack.app).get('/openapi.json').expect(200)).body;
    const body = doc.paths['/deviations'].post.requestBody.content['application/json'].schema;
    expect(body).toEqual(JSON.parse(JSON.stringify(z.toJSONSchema(openDeviationSchema, { io: 'input', unrepresentable: 'any' }))));
    expect(body.required).toEqual(expect.arrayContaining(['title', 'symptom', 'severity', 'batches', 'description']));
  });
});
