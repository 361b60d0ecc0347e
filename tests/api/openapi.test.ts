import request from 'supertest';
import { z } from 'zod';
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
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Every method and path the express app really serves, found by walking its routers. */
function servedRoutes(layers: Layer[]): string[] {
  return layers.flatMap((layer) => {
    if (layer.route) return Object.keys(layer.route.methods).map((m) => `${m} ${layer.route!.path.replace(/:(\w+)/g, '{$1}')}`);
    return layer.handle?.stack ? servedRoutes(layer.handle.stack) : [];
  });
}

describe('GET /openapi.json', () => {
  it('documents every route the API serves, and nothing it does not', async () => {
    const doc = (await request(stack.app).get('/openapi.json').expect(200)).body;
    const documented = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));
    const served = servedRoutes((stack.app as unknown as { router: { stack: Layer[] } }).router.stack);
    expect([...new Set(served)].sort()).toEqual([...new Set(documented)].sort());
  });

  it('takes request bodies from the schemas the routes validate with', async () => {
    const doc = (await request(stack.app).get('/openapi.json').expect(200)).body;
    const body = doc.paths['/deviations'].post.requestBody.content['application/json'].schema;
    expect(body).toEqual(JSON.parse(JSON.stringify(z.toJSONSchema(openDeviationSchema, { io: 'input', unrepresentable: 'any' }))));
    expect(body.required).toEqual(expect.arrayContaining(['title', 'symptom', 'severity', 'batches', 'description']));
  });
});
