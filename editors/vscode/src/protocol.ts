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
}

export type Decision = 'allow-once' | 'allow-always' | 'deny';

export interface ApproveResult {
  decision: Decision;
}

export interface StatusResult {
  root: string;
  policyFile: string;
  policyHash: string;
  trusted: boolean;
  backend: string;
  // every isolation layer in force, e.g. "bwrap + seccomp + Landlock ABI 7"
  layers?: string;
  capabilities: unknown;
  runs: unknown;
}
