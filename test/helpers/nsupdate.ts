// Runs BIND's real `nsupdate` with commands on stdin, for RFC 2136 tests.
import { spawn } from 'node:child_process';

/** Resolves with nsupdate's exit code and everything it printed (stdout and stderr). */
export function nsupdate(
  args: string[],
  commands: string[],
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('nsupdate', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
    child.stdin.end(commands.join('\n') + '\n');
  });
}
