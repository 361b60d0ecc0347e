import { spawnSync } from 'node:child_process';
import path from 'node:path';

/**
 * The layer order of docs/architecture.md, as `npm run lint` enforces it: an upward import fails.
 * ESLint's flat config is an ES module, which jest's module system cannot load, so the probes are
 * linted in a process of their own, all at once.
 */
const root = path.resolve(__dirname, '../..');
const LINT_PROBES = `
const { ESLint } = require('eslint');
const probes = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const eslint = new ESLint({ cwd: process.cwd() });
Promise.all(probes.map(async ([file, code]) => {
  const [result] = await eslint.lintText(code, { filePath: require('node:path').join(process.cwd(), file) });
  return result.messages.filter((m) => (m.ruleId || '').endsWith('no-restricted-imports')).map((m) => m.message);
})).then((all) => process.stdout.write(JSON.stringify(all)));
`;
function lint(probes: Array<[string, string]>): string[][] {
  const run = spawnSync(process.execPath, ['-e', LINT_PROBES], { cwd: root, input: JSON.stringify(probes), encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout) as string[][];
}

const UPWARD: Array<[string, string, RegExp]> = [
  [
    'workflows/probe.ts',
    "import { appendAudit } from '../audit/trail';\nexport const x = appendAudit;\n",
    /workflows\/ may not import audit\//,
  ],
  [
    'domain/probe.ts',
    "import { loadConfig } from '../lib/config';\nexport const x = loadConfig;\n",
    /may not import lib\/|must not import I\/O/,
  ],
  ['db/probe.ts', "import { appendAudit } from '../audit/trail';\nexport const x = appendAudit;\n", /db\/ may not import audit\//],
  [
    'notifications/probe.ts',
    "import type { AuthenticatedUser } from '../auth/types';\nexport type X = AuthenticatedUser;\n",
    /notifications\/ may not import auth\//,
  ],
  [
    'reconciliation/probe.ts',
    "import { captureDocument } from '../epcis/capture';\nexport const x = captureDocument;\n",
    /reconciliation\/ may not import epcis\//,
  ],
  ['bench/probe.ts', "import '../scripts/import';\n", /bench\/ may not import scripts\//],
  ['auth/probe.ts', "import { createApp } from '../api/app';\nexport const x = createApp;\n", /auth\/ may not import api\//],
  ['activities/probe.ts', "import { GATES } from '../workflows/deviation/gates';\nexport const x = GATES;\n", /as `import type` only/],
  [
    'api/routes/probe.ts',
    "import { DeviationWorkflow } from '../../workflows/deviation';\nexport const x = DeviationWorkflow;\n",
    /api\/ imports of workflows\/ only/,
  ],
];
const DOWNWARD: Array<[string, string]> = [
  [
    'api/routes/probe.ts',
    "import type { DeviationWorkflow } from '../../workflows/deviation';\nimport { signedRecord } from '../../workflows/deviation/gates';\nexport type X = typeof DeviationWorkflow;\nexport const y = signedRecord;\n",
  ],
  [
    'activities/probe.ts',
    "import type { HoldActivities } from '../workflows/activity-contracts';\nimport { appendAudit } from '../audit/trail';\nexport type X = HoldActivities;\nexport const y = appendAudit;\n",
  ],
  ['workflows/probe.ts', "import { lineText } from '../domain/text';\nexport const x = lineText;\n"],
];

describe('the layer rule', () => {
  const results = lint([...UPWARD.map(([file, code]) => [file, code] as [string, string]), ...DOWNWARD]);

  it.each(UPWARD.map(([file, , message], i) => [file, message, i] as const))('refuses an upward import in %s', (_file, message, i) => {
    expect(results[i]).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });

  it('lets imports go downward, and types of the workflow to the API and activities', () => {
    expect(results.slice(UPWARD.length)).toEqual(DOWNWARD.map(() => []));
  });
});
