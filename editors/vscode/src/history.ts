import * as vscode from 'vscode';
import type { RunResult, Violation } from './protocol';
import { describeViolation } from './runs';

// One finished run of this session.
export interface RunRecord {
  runId?: string;
  command: string;
  started: number; // ms since the epoch
  durationMs: number;
  exitCode?: number;
  signal?: string | number;
  violations: Violation[];
  cancelled?: boolean;
  error?: string;
}

export function recordOf(command: string, started: number, res?: RunResult, err?: unknown, cancelled = false): RunRecord {
  const r: RunRecord = { command, started, durationMs: Date.now() - started, violations: [] };
  if (res) Object.assign(r, { runId: res.runId, exitCode: res.exitCode, signal: res.signal, violations: res.violations ?? [] });
  if (cancelled) r.cancelled = true;
  else if (err) r.error = err instanceof Error ? err.message : String(err);
  return r;
}

// summary is the one-line state of a run: "exit 1 · 320 ms · 2 blocked".
export function summary(r: RunRecord): string {
  const state = r.cancelled ? 'cancelled' : r.error ? 'failed' : r.signal ? `signal ${r.signal}` : `exit ${r.exitCode}`;
  const parts = [state, `${r.durationMs} ms`];
  if (r.violations.length) parts.push(`${r.violations.length} blocked`);
  return parts.join(' · ');
}

// RunHistory keeps the last runs of the session, newest first.
export class RunHistory {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private list: RunRecord[] = [];

  constructor(private readonly max = 20) {}

  add(r: RunRecord): void {
    this.list = [r, ...this.list].slice(0, this.max);
    this.changed.fire();
  }

  clear(): void {
    this.list = [];
    this.changed.fire();
  }

  get runs(): readonly RunRecord[] {
    return this.list;
  }
}

type Node = { run: RunRecord } | { run: RunRecord; violation: Violation };

// RunsView shows the history as a tree: each run, and under it what it had
// blocked; a blocked access opens the rule (or the file) it is about.
export class RunsView implements vscode.TreeDataProvider<Node> {
  readonly onDidChangeTreeData: vscode.Event<void>;

  constructor(private readonly history: RunHistory) {
    this.onDidChangeTreeData = history.onDidChange;
  }

  getChildren(node?: Node): Node[] {
    if (!node) return this.history.runs.map((run) => ({ run }));
    if ('violation' in node) return [];
    return node.run.violations.map((violation) => ({ run: node.run, violation }));
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if ('violation' in node) {
      const v = node.violation;
      const item = new vscode.TreeItem(describeViolation(v).replace(/^cordon: /, ''), vscode.TreeItemCollapsibleState.None);
      item.iconPath = new vscode.ThemeIcon('warning');
      item.contextValue = 'cordon.violation';
      const file = v.rule?.file ?? (v.kind !== 'net' && v.target.startsWith('/') ? v.target : undefined);
      if (file) {
        const line = Math.max(0, (v.rule?.line ?? 1) - 1);
        item.command = {
          command: 'vscode.open',
          title: 'Open',
          arguments: [vscode.Uri.file(file), { selection: new vscode.Range(line, 0, line, 0) }],
        };
      }
      return item;
    }
    const r = node.run;
    const item = new vscode.TreeItem(
      r.command,
      r.violations.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
    );
    item.description = summary(r);
    item.tooltip = `${r.command}\n${summary(r)}\nstarted ${new Date(r.started).toLocaleTimeString()}${r.error ? `\n${r.error}` : ''}`;
    const ok = !r.cancelled && !r.error && r.exitCode === 0;
    item.iconPath = new vscode.ThemeIcon(ok ? 'pass' : r.cancelled ? 'circle-slash' : 'error');
    item.contextValue = 'cordon.run';
    return item;
  }
}
