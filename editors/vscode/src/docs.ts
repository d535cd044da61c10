import * as fs from 'node:fs/promises';
import * as vscode from 'vscode';

// Read-only virtual documents: `cordon explain` of a folder's live policy,
// and the audit log as a table.
export const EXPLAIN_SCHEME = 'cordon-explain';
export const AUDIT_SCHEME = 'cordon-audit';

export class ExplainProvider implements vscode.TextDocumentContentProvider {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly explain: (root: string | undefined) => Promise<string>) {}

  provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    return this.explain(new URLSearchParams(uri.query).get('root') || undefined);
  }

  refresh(uri: vscode.Uri): void {
    this.changed.fire(uri);
  }
}

export function explainUri(root?: string): vscode.Uri {
  const q = root ? `root=${encodeURIComponent(root)}` : '';
  return vscode.Uri.parse(`${EXPLAIN_SCHEME}:/cordon%20explain?${q}`);
}

// One audit log line (proxy.Decision).
export interface AuditEntry {
  time: string;
  run?: string;
  command?: string;
  host: string;
  port: number;
  decision: string;
  asked?: boolean;
  answer?: string;
  reason?: string;
  rule?: string;
}

export interface AuditFilter {
  run?: string;
  host?: string;
}

// parseAudit reads the audit log's JSON lines; a line that is not one is
// skipped (a log cut mid-write must not hide the rest).
export function parseAudit(text: string): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as AuditEntry;
      if (e && typeof e.host === 'string') out.push(e);
    } catch {
      // skipped
    }
  }
  return out;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

// auditTable renders the entries that pass the filter as an aligned table,
// newest first.
export function auditTable(entries: AuditEntry[], f: AuditFilter = {}): string {
  const rows = entries
    .filter((e) => (!f.run || e.run === f.run) && (!f.host || e.host === f.host))
    .reverse()
    .map((e) => [
      e.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      e.run ?? '',
      `${e.host}:${e.port}`,
      e.decision,
      e.asked ? `asked: ${e.answer || 'no answer'}` : e.reason ?? '',
      e.rule ?? '',
      e.command ?? '',
    ]);
  const head = ['time', 'run', 'host', 'decision', 'why', 'rule', 'command'];
  const widths = head.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((r) => r[i].length))));
  const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i]))).join('  ').trimEnd();
  const title = `cordon audit log${f.run ? ` · run ${f.run}` : ''}${f.host ? ` · host ${f.host}` : ''} · ${rows.length} decision(s)`;
  return [title, '', fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt), ''].join('\n');
}

export class AuditProvider implements vscode.TextDocumentContentProvider {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly file: () => string) {}

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const q = new URLSearchParams(uri.query);
    let text = '';
    try {
      text = await fs.readFile(this.file(), 'utf8');
    } catch {
      return `cordon: no audit log yet (${this.file()}); it starts with the first network decision.\n`;
    }
    return auditTable(parseAudit(text), { run: q.get('run') || undefined, host: q.get('host') || undefined });
  }

  refresh(uri: vscode.Uri): void {
    this.changed.fire(uri);
  }
}

export function auditUri(f: AuditFilter = {}): vscode.Uri {
  const q = new URLSearchParams();
  if (f.run) q.set('run', f.run);
  if (f.host) q.set('host', f.host);
  return vscode.Uri.parse(`${AUDIT_SCHEME}:/cordon%20audit%20log?${q.toString()}`);
}
