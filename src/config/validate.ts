// One validator for every schema in the project (config file, environment, API bodies,
// seed files), so a bad value is reported the same way everywhere: by its field path.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Static, TSchema } from '@sinclair/typebox';
import { ValidationError } from '../lib/errors.js';

export const ajv = new Ajv({
  allErrors: false,
  useDefaults: true,
  coerceTypes: false,
  strict: false,
});
(addFormats as unknown as (a: Ajv) => void)(ajv);

const compiled = new WeakMap<TSchema, ValidateFunction>();

/** `/dns/listen/0` → `dns.listen[0]` */
export function fieldPath(instancePath: string, missing?: string): string {
  const parts = instancePath.split('/').filter(Boolean);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  if (missing) out += out ? `.${missing}` : missing;
  return out || '(root)';
}

export function describeError(e: ErrorObject): { field: string; message: string } {
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'required') {
    const field = fieldPath(e.instancePath, String(params.missingProperty));
    return { field, message: `${field} is required` };
  }
  if (e.keyword === 'additionalProperties') {
    const field = fieldPath(e.instancePath, String(params.additionalProperty));
    return { field, message: `${field} is not a known field` };
  }
  const field = fieldPath(e.instancePath);
  return { field, message: `${field} ${e.message ?? 'is invalid'}` };
}

/** Validates (and fills defaults into) `value`; throws a ValidationError naming the field. */
export function validate<T extends TSchema>(schema: T, value: unknown, what: string): Static<T> {
  let fn = compiled.get(schema);
  if (!fn) {
    fn = ajv.compile(schema);
    compiled.set(schema, fn);
  }
  if (!fn(value)) {
    const first = fn.errors?.[0];
    const d = first ? describeError(first) : { field: '(root)', message: 'is invalid' };
    throw new ValidationError(`${what}: ${d.message}`, d.field);
  }
  return value as Static<T>;
}
