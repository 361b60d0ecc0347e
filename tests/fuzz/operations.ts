import type { z } from 'zod';
import * as openapi from '../../api/openapi';

/**
 * The operations of the OpenAPI document as the fuzz needs them, read from `OPERATIONS` in
 * api/openapi.ts (the list the document is generated from): method, path in OpenAPI form, the roles
 * named, the body and query schemas, and whether the route is public. Read loosely, so the fuzz
 * keeps up with how the list declares public routes (`public: true` or `access: 'public'`) and paths
 * (`/users/{id}` or `/users/:id`).
 */
export interface FuzzOperation {
  method: 'get' | 'post' | 'patch' | 'delete' | 'options';
  path: string;
  roles?: readonly string[];
  body?: z.ZodType;
  query?: z.ZodObject;
  public: boolean;
}

interface Declared {
  method: FuzzOperation['method'];
  path: string;
  roles?: readonly string[];
  body?: z.ZodType;
  query?: z.ZodObject;
  public?: boolean;
  access?: string;
}

export function fuzzOperations(): FuzzOperation[] {
  const declared = (openapi as unknown as { OPERATIONS?: Declared[] }).OPERATIONS;
  if (!Array.isArray(declared)) throw new Error('api/openapi.ts no longer exports OPERATIONS, the list the fuzz covers');
  return declared.map((op) => ({
    method: op.method,
    path: op.path.replace(/:(\w+)/g, '{$1}'),
    ...(op.roles ? { roles: op.roles } : {}),
    ...(op.body ? { body: op.body } : {}),
    ...(op.query ? { query: op.query } : {}),
    public: op.public === true || op.access === 'public',
  }));
}
