import globals from 'globals';
import tseslint from 'typescript-eslint';

// Workflow and domain code must stay deterministic: no Node built-ins, no I/O packages.
const forbiddenInDeterministicCode = [
  { group: ['node:*', 'fs', 'path', 'crypto', 'http', 'https', 'net', 'child_process', 'os', 'timers'], message: 'Workflow and domain code must be deterministic and free of I/O.' },
  { group: ['pg', 'express', 'pino', '@temporalio/client', '@temporalio/worker', '@temporalio/activity', '../db/*', '../api/*', '../lib/*', '../activities/index', '../../db/*', '../../lib/*'], message: 'Workflow and domain code must not import I/O packages.' },
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.tools/**', '.data/**', 'dist/**', 'coverage/**', 'jest.config.js'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
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
);
