import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CordonClient } from './client';
import type { RunParams } from './protocol';
import { describeExit, describeViolation } from './runs';

export const TASK_TYPE = 'cordon';

export interface CordonTaskDefinition extends vscode.TaskDefinition {
  type: 'cordon';
  command: string;
  args?: string[];
  cwd?: string;
}

// runParams turns a task definition into sandbox/run params: with args the
// argv runs as is, without them command is a /bin/sh -c string.
export function runParams(def: CordonTaskDefinition, folder?: string): RunParams {
  if (typeof def.command !== 'string' || !def.command) {
    throw new Error('cordon task: "command" must be a non-empty string');
  }
  if (def.args !== undefined && (!Array.isArray(def.args) || def.args.some((a) => typeof a !== 'string'))) {
    throw new Error('cordon task: "args" must be an array of strings');
  }
  const command = def.args && def.args.length > 0 ? [def.command, ...def.args] : def.command;
  let cwd = def.cwd;
  if (cwd && folder && !path.isAbsolute(cwd)) cwd = path.join(folder, cwd);
  if (!cwd) cwd = folder;
  const label = Array.isArray(command) ? command.join(' ') : command;
  return cwd ? { command, cwd, label } : { command, label };
}

// crlf makes output display right in a terminal, which needs \r\n.
export function crlf(s: string): string {
  return s.replace(/\r?\n/g, '\r\n');
}

// SandboxTerminal runs one task through sandbox/run; closing it cancels the
// run; the exit code is the task's result.
export class SandboxTerminal implements vscode.Pseudoterminal {
  private readonly write = new vscode.EventEmitter<string>();
  private readonly done = new vscode.EventEmitter<number>();
  private readonly cancel = new vscode.CancellationTokenSource();
  readonly onDidWrite = this.write.event;
  readonly onDidClose = this.done.event;

  // params may be a thunk so that a bad task definition is reported in
  // the terminal rather than failing the task silently.
  constructor(
    private readonly client: () => CordonClient,
    private readonly params: RunParams | (() => RunParams),
  ) {}

  open(): void {
    void this.start();
  }

  close(): void {
    this.cancel.cancel();
  }

  private async start(): Promise<void> {
    try {
      const params = typeof this.params === 'function' ? this.params() : this.params;
      const label = params.label ?? String(params.command);
      this.write.fire(`\x1b[2m[cordon] ${label}\x1b[0m\r\n`);
      const res = await this.client().run(
        params,
        { output: (_s, d) => this.write.fire(crlf(d)) },
        this.cancel.token,
      );
      for (const v of res.violations ?? []) this.write.fire(`\x1b[33m${describeViolation(v)}\x1b[0m\r\n`);
      this.write.fire(`\x1b[2m${describeExit(res.exitCode, res.signal)}\x1b[0m\r\n`);
      this.done.fire(res.exitCode);
    } catch (err) {
      this.write.fire(`\x1b[31m[cordon] ${err instanceof Error ? err.message : String(err)}\x1b[0m\r\n`);
      // 125: the sandbox could not run the command (the CLI's convention).
      this.done.fire(125);
    }
  }
}

// shellQuote quotes s for /bin/sh when it needs it.
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_.:/=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

// A task found in a folder: its name and the shell string it runs.
export interface DetectedTask {
  name: string;
  command: string;
}

// makeTargets lists a Makefile's explicit targets (not pattern rules,
// special targets or variable assignments).
export function makeTargets(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z0-9_][A-Za-z0-9_.\-/]*(?:\s+[A-Za-z0-9_][A-Za-z0-9_.\-/]*)*)\s*:(?![:=])/.exec(line);
    if (!m) continue;
    for (const t of m[1].split(/\s+/)) if (!t.includes('%') && !out.includes(t)) out.push(t);
  }
  return out;
}

// detectTasks finds what a folder can run: package.json scripts, Makefile
// targets, and go test ./... for a Go module. Unreadable files are skipped.
export function detectTasks(folder: string): DetectedTask[] {
  const read = (f: string): string | undefined => {
    try {
      return fs.readFileSync(path.join(folder, f), 'utf8');
    } catch {
      return undefined;
    }
  };
  const out: DetectedTask[] = [];
  const pkg = read('package.json');
  if (pkg) {
    try {
      const scripts = (JSON.parse(pkg) as { scripts?: Record<string, unknown> }).scripts ?? {};
      for (const [name, v] of Object.entries(scripts)) {
        if (typeof v === 'string') out.push({ name: `npm: ${name}`, command: `npm run ${shellQuote(name)}` });
      }
    } catch {
      // not JSON: no scripts
    }
  }
  const mk = read('Makefile') ?? read('makefile') ?? read('GNUmakefile');
  if (mk) for (const t of makeTargets(mk)) out.push({ name: `make: ${t}`, command: `make ${t}` });
  if (read('go.mod') !== undefined) out.push({ name: 'go: test ./...', command: 'go test ./...' });
  return out;
}

export class CordonTaskProvider implements vscode.TaskProvider {
  constructor(private readonly client: () => CordonClient) {}

  // provideTasks offers every detected task of every folder, sandboxed.
  provideTasks(): vscode.Task[] {
    const tasks: vscode.Task[] = [];
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      for (const t of detectTasks(folder.uri.fsPath)) {
        const def: CordonTaskDefinition = { type: TASK_TYPE, command: t.command };
        const exec = new vscode.CustomExecution(async () => new SandboxTerminal(this.client, () => runParams(def, folder.uri.fsPath)));
        tasks.push(new vscode.Task(def, folder, t.name, TASK_TYPE, exec, []));
      }
    }
    return tasks;
  }

  resolveTask(task: vscode.Task): vscode.Task | undefined {
    const def = task.definition as CordonTaskDefinition;
    if (def.type !== TASK_TYPE) return undefined;
    const scope = task.scope ?? vscode.TaskScope.Workspace;
    const folder =
      typeof scope === 'object' && scope !== null && 'uri' in scope
        ? (scope as vscode.WorkspaceFolder).uri.fsPath
        : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const exec = new vscode.CustomExecution(async () => new SandboxTerminal(this.client, () => runParams(def, folder)));
    return new vscode.Task(def, scope, task.name, TASK_TYPE, exec, task.problemMatchers);
  }
}
