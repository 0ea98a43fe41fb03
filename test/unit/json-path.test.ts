// The JSON path subset of health assertions: what parses, what it finds, what is refused.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { evalJsonPath, parseJsonPath } from '../../src/lib/json-path.js';

describe('JSON path subset', () => {
  const doc = { a: { b: [{ c: 1 }, 'two'], 'x y': null, 'q"': true } };
  const cases: [path: string, steps: (string | number)[], found: boolean, value?: unknown][] = [
    ['$', [], true, doc],
    ['$.a.b[0].c', ['a', 'b', 0, 'c'], true, 1],
    ['$.a.b[1]', ['a', 'b', 1], true, 'two'],
    ['$.a["x y"]', ['a', 'x y'], true, null],
    ["$['a']['q\\\"']", ['a', 'q"'], true, true],
    ['$.a.b[2]', ['a', 'b', 2], false],
    ['$.a.b.c', ['a', 'b', 'c'], false],
    ['$.a.b[0].c.d', ['a', 'b', 0, 'c', 'd'], false],
    ['$.constructor', ['constructor'], false],
  ];
  for (const [path, steps, found, value] of cases)
    it(`${path} → ${found ? JSON.stringify(value) : 'not found'}`, () => {
      assert.deepEqual(parseJsonPath(path), steps);
      const r = evalJsonPath(doc, steps);
      assert.equal(r.found, found);
      if (found) assert.deepEqual(r.value, value);
    });

  for (const [bad, why] of [
    ['a.b', /must start with \$/],
    ['$.a[x]', /unexpected "\[x\]" at offset 3/],
    ['$..a', /unexpected/],
    ['$.a[*]', /unexpected/],
    ['$.a[01]', /unexpected/],
    ['$.a[?(@.b)]', /unexpected/],
  ] as const)
    it(`refuses ${bad}`, () => assert.throws(() => parseJsonPath(bad), why));
});
