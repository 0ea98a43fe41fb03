// A small JSON path subset for health assertions: `$` followed by `.name`, `["name"]` or
// `[index]` steps (no wildcards, filters or slices). Parsing and evaluation only; what a
// match means is the caller's.

export type PathStep = string | number;

/** The steps of `path`; throws a RangeError saying where the path is not in the subset. */
export function parseJsonPath(path: string): PathStep[] {
  if (!path.startsWith('$')) throw new RangeError('must start with $');
  const steps: PathStep[] = [];
  let i = 1;
  while (i < path.length) {
    const rest = path.slice(i);
    const dot = /^\.([A-Za-z_$][A-Za-z0-9_$-]*)/.exec(rest);
    const index = /^\[(0|[1-9][0-9]{0,8})\]/.exec(rest);
    const quoted = /^\[(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\]/.exec(rest);
    if (dot) {
      steps.push(dot[1] as string);
      i += dot[0].length;
    } else if (index) {
      steps.push(Number(index[1]));
      i += index[0].length;
    } else if (quoted) {
      steps.push((quoted[1] ?? quoted[2] ?? '').replace(/\\(.)/g, '$1'));
      i += quoted[0].length;
    } else {
      throw new RangeError(`unexpected ${JSON.stringify(rest.slice(0, 16))} at offset ${i}`);
    }
  }
  return steps;
}

/** The value at `steps` in `doc`; `found` false when a step does not exist. */
export function evalJsonPath(
  doc: unknown,
  steps: readonly PathStep[],
): { found: boolean; value: unknown } {
  let cur: unknown = doc;
  for (const s of steps) {
    if (typeof s === 'number') {
      if (!Array.isArray(cur) || s >= cur.length) return { found: false, value: undefined };
      cur = cur[s];
    } else {
      if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, s))
        return { found: false, value: undefined };
      cur = (cur as Record<string, unknown>)[s];
    }
  }
  return { found: true, value: cur };
}
