import type * as Lifecycle from '../domain/lifecycle';
import type * as Rca from '../domain/rca';
import type * as Text from '../domain/text';

/**
 * The domain modules that build zod schemas when imported, loaded the first time a workflow uses
 * one. Each workflow run gets its own copy of the modules it imports (the SDK keeps module state
 * apart between runs), so whatever a module builds at import is built again for every new
 * deviation and every one replayed from its history: for these, zod itself and every step's
 * schema, tens of milliseconds of the worker's single workflow thread, spent in the very task that
 * places the deviation's holds. Most workflow tasks validate nothing; those that do (an Update's
 * validator, a refusal's text) load them here, once per run. Loading is synchronous and reads no
 * clock or I/O, so it is as deterministic as the import it replaces.
 */
function onDemand<M extends object>(load: () => M): M {
  let loaded: M | undefined;
  return new Proxy({} as M, { get: (_, name) => (loaded ??= load())[name as keyof M] });
}

export const lifecycle = onDemand<typeof Lifecycle>(() => require('../domain/lifecycle'));
export const rca = onDemand<typeof Rca>(() => require('../domain/rca'));
export const text = onDemand<typeof Text>(() => require('../domain/text'));
