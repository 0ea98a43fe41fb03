// Child processes the tests start (redis-server, nsd): killed if the test process dies
// first, and stopped with SIGTERM, then SIGKILL when they do not exit in time.
import type { ChildProcess } from 'node:child_process';

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Guards `child` against being left behind; the returned stop() ends it exactly once. */
export function supervise(child: ChildProcess, graceMs = 3000): () => Promise<void> {
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  return async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited(child);
      clearTimeout(timer);
    }
  };
}
