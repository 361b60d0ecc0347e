import { readFileSync } from 'node:fs';
import { DefaultLogger, Runtime } from '@temporalio/worker';

let runtimeInstalled = false;
/** The SDK's runtime logs to the console by default; tests keep only warnings and errors. */
export function quietTemporalRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // already installed by an earlier helper in this process
  }
}

/** The workflow bundle the global setup built once for the whole run. */
export function workflowBundle(): { code: string } {
  const path = process.env.TEST_WORKFLOW_BUNDLE;
  if (!path) throw new Error('TEST_WORKFLOW_BUNDLE is not set: run the tests through jest (global setup)');
  return { code: readFileSync(path, 'utf8') };
}
