import * as os from 'node:os';
import * as path from 'node:path';

export const POLICY_FILE = '.sandbox.toml';

// STARTER is the commented policy Open Policy writes when there is none,
// in the spirit of `cordon init`: every rule commented out, so creating it
// changes nothing until the user decides.
export const STARTER = `# cordon sandbox policy for this workspace.
# Every command cordon runs here gets: this workspace and a private temp dir
# writable, the rest of the machine read-only, your credentials (~/.ssh,
# ~/.aws, ...) unreadable, and no network except the hosts allowed below.
# Rules that widen your defaults (~/.config/cordon/sandbox.toml) apply only
# after you approve this file's content (the editor asks, or: cordon trust).
# Check it with: cordon check    See the result with: cordon explain

[filesystem]
# allow_write = ["~/.cache/go-build"]   # writable besides the workspace
# deny_write  = [".env", "*.pem"]       # read-only even inside the workspace
# deny_read   = ["secrets/**"]          # unreadable
# allow_read  = ["~/.aws/config"]       # readable again inside a deny_read

[network]
# allow   = ["github.com", "*.npmjs.org", "proxy.golang.org:443", "localhost:5173"]
# deny    = ["telemetry.example.com"]  # wins over allow
# unknown = "ask"                      # "ask" (in an editor or terminal) or "deny"

[env]
# pass = ["NPM_TOKEN"]                 # let these secret-looking variables through
# set  = { CI = "1" }

[limits]
# timeout   = "15m"
# memory    = "8GiB"
# processes = 1024
`;

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
