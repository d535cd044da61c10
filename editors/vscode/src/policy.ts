import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const POLICY_FILE = '.sandbox.toml';

// initPolicy writes the starter policy into folder with `BINARY init -w
// FOLDER`: one text for the CLI and every editor. An existing file is left
// alone (cordon init never overwrites); it resolves to the file's path.
export function initPolicy(binary: string, folder: string): Promise<string> {
  const file = path.join(folder, POLICY_FILE);
  return new Promise((resolve, reject) => {
    execFile(binary, ['init', '-w', folder], { timeout: 10000 }, (err, _stdout, stderr) => {
      if (err && !fs.existsSync(file)) {
        reject(new Error(`cordon init: ${String(stderr).trim() || err.message}`));
        return;
      }
      resolve(file);
    });
  });
}

// stateDir is cordon's state directory: $XDG_STATE_HOME/cordon, else
// ~/.local/state/cordon. XDG says a relative value is invalid: ignore it.
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'cordon');
  return path.join(env.HOME || os.homedir(), '.local', 'state', 'cordon');
}

export function auditLogPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(stateDir(env), 'audit.log');
}
