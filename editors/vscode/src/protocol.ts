// Wire types of cordon's JSON-RPC contract (DESIGN.md, "JSON-RPC").

export const Method = {
  run: 'sandbox/run',
  output: 'sandbox/output',
  violation: 'sandbox/violation',
  approve: 'sandbox/approve',
  status: 'sandbox/status',
} as const;

export interface RunParams {
  command: string[] | string;
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  label?: string;
}

export interface RuleRef {
  file: string;
  line: number;
}

export interface Violation {
  runId: string;
  command: string;
  kind: 'write' | 'read' | 'net' | 'unix-socket';
  target: string;
  rule?: RuleRef;
  time: string;
}

export interface RunResult {
  runId: string;
  exitCode: number;
  signal?: string | number;
  violations: Violation[];
}

export interface OutputParams {
  runId: string;
  stream: 'stdout' | 'stderr';
  data: string;
}

export interface ApproveParams {
  id: string;
  runId: string;
  kind: 'network' | 'filesystem' | 'policy';
  target: string;
  command: string;
  message: string;
  // The decisions the server offers, when it names them.
  choices?: Decision[];
}

export type Decision = 'allow-once' | 'allow-always' | 'deny' | 'deny-always';

export interface ApproveResult {
  decision: Decision;
}

export interface Widening {
  kind: string;
  target: string;
  line: number;
}

export interface StatusResult {
  root: string;
  // null when the folder has no .sandbox.toml (the defaults apply).
  policyFile: string | null;
  policyHash: string;
  trusted: boolean;
  // The file on disk is invalid (error says why); the last good policy is in force.
  lastGood?: boolean;
  error?: string;
  // What the file widens that is not in force until it is trusted.
  untrusted?: Widening[];
  backend: string;
  // every isolation layer in force, e.g. "bwrap + seccomp + Landlock ABI 7"
  layers?: string;
  capabilities: unknown;
  runs: unknown;
}

// The server's workspace/executeCommand commands for the editors.
export const ServerCommand = {
  explain: 'cordon.server.explain',
  trust: 'cordon.server.trust',
  untrust: 'cordon.server.untrust',
  clearViolations: 'cordon.server.clearViolations',
  revoke: 'cordon.server.revoke',
} as const;
