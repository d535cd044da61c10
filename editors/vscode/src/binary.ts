import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const INSTALL_HINT =
  'Install it with `go install github.com/cordon-dev/cordon/cmd/cordon@latest` ' +
  '(or build it from the repository with `make build`), then put it on PATH ' +
  'or set "cordon.path" to the binary.';

export class MissingBinaryError extends Error {
  constructor(readonly configured: string) {
    super(`cordon: the binary "${configured}" was not found. ${INSTALL_HINT}`);
    this.name = 'MissingBinaryError';
  }
}

function executable(p: string): boolean {
  try {
    const st = fs.statSync(p);
    if (!st.isFile()) return false;
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// resolveBinary turns the cordon.path setting into an absolute executable
// path: a name without a slash is looked up on PATH, "~/" is the home
// directory, a relative path is taken from the first workspace folder.
export function resolveBinary(
  configured: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  base?: string,
): string {
  const want = (configured ?? '').trim() || 'cordon';
  if (!want.includes('/')) {
    for (const dir of (env.PATH ?? '').split(path.delimiter)) {
      if (!dir) continue;
      const p = path.join(dir, want);
      if (executable(p)) return p;
    }
    throw new MissingBinaryError(want);
  }
  let p = want;
  if (p === '~' || p.startsWith('~/')) p = path.join(env.HOME ?? os.homedir(), p.slice(1));
  if (!path.isAbsolute(p)) p = path.resolve(base ?? process.cwd(), p);
  if (!executable(p)) throw new MissingBinaryError(want);
  return p;
}
