import globals from 'globals';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks'; // web/ (last entry of the config)

// Workflow and domain code must stay deterministic: no Node built-ins, no I/O packages.
const forbiddenInDeterministicCode = [
  {
    group: ['node:*', 'fs', 'path', 'crypto', 'http', 'https', 'net', 'child_process', 'os', 'timers'],
    message: 'Workflow and domain code must be deterministic and free of I/O.',
  },
  {
    group: [
      'pg',
      'express',
      'pino',
      '@temporalio/client',
      '@temporalio/worker',
      '@temporalio/activity',
      '../db/*',
      '../api/*',
      '../lib/*',
      '../activities/index',
      '../../db/*',
      '../../lib/*',
    ],
    message: 'Workflow and domain code must not import I/O packages.',
  },
];

/**
 * Layers, lowest first. A folder may import from itself, from npm packages and from the folders
 * its row names; a new upward (or sideways) import fails `npm run lint`, and so `npm test`.
 *
 *   folder            may import
 *   ───────────────   ──────────────────────────────────────────────────────────────────────────────
 *   domain/           nothing else: pure rules and schemas (and no Node built-ins or I/O, above)
 *   lib/              domain/
 *   db/               domain/, lib/
 *   audit/            domain/, lib/, db/                                          ┐
 *   notifications/    domain/, lib/, db/                                          │
 *   reconciliation/   domain/, lib/, db/                                          │ services
 *   epcis/            domain/, lib/, db/                                          │ (policies/ holds
 *   auth/             domain/, lib/, db/, audit/, notifications/                  │  data only)
 *   signatures/       domain/, lib/, db/, audit/, notifications/, auth/           │
 *   containment/      domain/, lib/, db/, notifications/; of workflows/ what the  ┘
 *                     API may import (it signals deviations of hold breaches, and starts
 *                     the workflows of deviations the API opened)
 *   monitoring/       domain/, lib/, db/, audit/, notifications/, auth/, signatures/: the control
 *                     charts and their signed changes
 *   api/              domain/, lib/, db/, the services; of workflows/ only the messages and state the
 *                     API shares with the workflows (workflows/messages, workflows/types,
 *                     workflows/deviation/state, workflows/deviation/gates), anything else of it as
 *                     `import type` only (the workflow's own type, for a type-checked start)
 *   worker/           domain/, lib/, db/, the services, activities/, workflows/
 *   scripts/          anything but bench/
 *   bench/            anything but scripts/
 *   workflows/        domain/ only (and deterministic: the rule above)
 *   activities/       domain/, lib/, db/, the services; workflows/ as `import type` only (the activities'
 *                     contracts in workflows/activity-contracts.ts, the state types)
 *
 * Checked on relative imports, by their depth: from `api/routes/x.ts`, `../../auth/users` is auth/.
 */
const TOP_FOLDERS = [
  'domain',
  'lib',
  'db',
  'audit',
  'notifications',
  'reconciliation',
  'epcis',
  'auth',
  'signatures',
  'containment',
  'monitoring',
  'policies',
  'activities',
  'workflows',
  'api',
  'worker',
  'scripts',
  'bench',
  'tests',
];
const BELOW_SERVICES = ['domain', 'lib', 'db'];
const SERVICES = ['audit', 'notifications', 'reconciliation', 'epcis', 'auth', 'signatures', 'containment', 'monitoring', 'policies'];
/** What the API may import of workflows/ at run time; anything else of workflows/ only as a type. */
const WORKFLOW_MODULES_SHARED_WITH_API = ['messages', 'types', 'deviation/state', 'deviation/gates'];
/** Folders that talk to running workflows, and so import what the API may of workflows/. */
const SHARES_WORKFLOW_MESSAGES = ['api', 'containment'];
const MAY_IMPORT = {
  domain: [],
  lib: ['domain'],
  db: ['domain', 'lib'],
  audit: BELOW_SERVICES,
  notifications: BELOW_SERVICES,
  reconciliation: BELOW_SERVICES,
  epcis: BELOW_SERVICES,
  auth: [...BELOW_SERVICES, 'audit', 'notifications'],
  signatures: [...BELOW_SERVICES, 'audit', 'notifications', 'auth'],
  monitoring: [...BELOW_SERVICES, 'audit', 'notifications', 'auth', 'signatures'],
  containment: [...BELOW_SERVICES, 'audit', 'notifications'],
  api: [...BELOW_SERVICES, ...SERVICES],
  worker: [...BELOW_SERVICES, ...SERVICES, 'activities', 'workflows'],
  scripts: TOP_FOLDERS.filter((f) => f !== 'bench'),
  bench: TOP_FOLDERS.filter((f) => f !== 'scripts'),
  workflows: ['domain'],
  activities: [...BELOW_SERVICES, ...SERVICES],
};
/** Files as deep as the deepest folder (api/routes/x.ts, audit/evidence/x.ts: 2) and a little more. */
const MAX_DEPTH = 4;

function layerRules(folder) {
  const allowed = new Set([folder, ...MAY_IMPORT[folder]]);
  return Array.from({ length: MAX_DEPTH }, (_, i) => {
    const up = `^(\\.\\./){${i + 1}}`;
    const typeOnlyWorkflows = SHARES_WORKFLOW_MESSAGES.includes(folder) || folder === 'activities';
    const patterns = TOP_FOLDERS.filter((f) => !allowed.has(f) && !(typeOnlyWorkflows && f === 'workflows')).map((f) => ({
      regex: `${up}${f}(/|$)`,
      message: `${folder}/ may not import ${f}/: see the layer table in eslint.config.mjs.`,
    }));
    if (SHARES_WORKFLOW_MESSAGES.includes(folder)) {
      patterns.push({
        regex: `${up}workflows(/(?!(${WORKFLOW_MODULES_SHARED_WITH_API.join('|')})$)|$)`,
        allowTypeImports: true,
        message: `${folder}/ imports of workflows/ only ${WORKFLOW_MODULES_SHARED_WITH_API.join(', ')}; anything else as \`import type\`: see the layer table in eslint.config.mjs.`,
      });
    }
    if (folder === 'activities') {
      patterns.push({
        regex: `${up}workflows(/|$)`,
        allowTypeImports: true,
        message: 'activities/ imports workflows/ as `import type` only (their contracts): see the layer table in eslint.config.mjs.',
      });
    }
    return {
      files: [`${folder}/${'*/'.repeat(i)}*.ts`],
      rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] },
    };
  });
}

export default tseslint.config(
  { ignores: ['node_modules/**', '.tools/**', '.data/**', 'dist/**', 'coverage/**', 'jest.config.js'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    files: ['workflows/**/*.ts', 'domain/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: forbiddenInDeterministicCode }],
      '@typescript-eslint/no-restricted-imports': 'off',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      // Activities are imported as types only; their implementations live in the worker.
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports' }],
    },
  },
  // After the deterministic rule, which turns the TypeScript variant off for domain/.
  ...Object.keys(MAY_IMPORT).flatMap(layerRules),
  // --- web/ (the web application, docs/web.md): browser code with the React hooks rules; not its build ---
  { ignores: ['web/dist/**'] },
  {
    files: ['web/**/*.{ts,tsx,mts}'],
    plugins: { 'react-hooks': reactHooks },
    languageOptions: { globals: { ...globals.browser } },
    rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'error' },
  },
);
