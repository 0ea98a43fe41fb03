// The checks on a probe spec (the config's `health.probe`, or a node's overrides) that its
// schema cannot make: the body regex compiles, the JSON path is in the supported subset.
// A problem is a ValidationError naming the field, so the API answers 400 with it.
import { ValidationError, errorMessage } from '../lib/errors.js';
import { parseJsonPath } from '../lib/json-path.js';
import type { ProbeSpec } from './schema.js';

/** Throws a ValidationError naming `${at}.bodyRegex` or `${at}.json.path` when invalid. */
export function checkProbe(spec: Partial<ProbeSpec>, at: string): void {
  if (spec.bodyRegex !== undefined && spec.bodyRegex !== null) {
    try {
      new RegExp(spec.bodyRegex);
    } catch (err) {
      throw new ValidationError(
        `${at}.bodyRegex is not a regular expression: ${errorMessage(err)}`,
        `${at}.bodyRegex`,
      );
    }
  }
  if (spec.json) {
    try {
      parseJsonPath(spec.json.path);
    } catch (err) {
      throw new ValidationError(
        `${at}.json.path ${JSON.stringify(spec.json.path)}: ${errorMessage(err)}`,
        `${at}.json.path`,
      );
    }
  }
}
