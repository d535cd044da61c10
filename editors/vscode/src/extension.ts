import * as vscode from 'vscode';
import { MissingBinaryError, resolveBinary } from './binary';
import { CordonClient } from './client';
import { Command, registerCommands, type Host } from './commands';
import { AUDIT_SCHEME, AuditProvider, EXPLAIN_SCHEME, ExplainProvider } from './docs';
import { RunHistory, RunsView } from './history';
import { auditLogPath, POLICY_FILE } from './policy';
import { ServerCommand } from './protocol';
import { StatusBar, stateOf, type PolicyState } from './status';
import { CordonTaskProvider, TASK_TYPE } from './tasks';
import { registerTerminalProfile } from './terminal';
import { registerTool } from './lmtool';
import { registerMcpProvider } from './mcp';

// Extension owns the one server process and the UI around it.
class Extension implements Host, vscode.Disposable {
  readonly runs = vscode.window.createOutputChannel('cordon: runs');
  readonly info = vscode.window.createOutputChannel('cordon: status');
  readonly serverLog = vscode.window.createOutputChannel('cordon: server');
  readonly history = new RunHistory(20);
  private readonly bar = new StatusBar(Command.menu);
  private current: CordonClient | undefined;
  private startError: string | undefined;
  private binaryPath: string | undefined;

  get state(): PolicyState {
    return this.bar.state;
  }

  // explainText is `cordon explain` of a folder's live policy.
  async explainText(root: string | undefined): Promise<string> {
    try {
      const r = await this.client().command<{ text: string }>(ServerCommand.explain, root ? { root } : {});
      return r.text;
    } catch (err) {
      return `cordon: cannot explain the policy: ${err instanceof Error ? err.message : String(err)}\n`;
    }
  }

  // binary is the cordon executable: the one the server was started
  // with, else resolved the same way (it throws when there is none).
  binary(): string {
    if (this.binaryPath) return this.binaryPath;
    const folders = vscode.workspace.workspaceFolders;
    return resolveBinary(vscode.workspace.getConfiguration('cordon').get<string>('path'), process.env, folders?.[0]?.uri.fsPath);
  }

  version(): string {
    return String(vscode.extensions?.getExtension?.('cordon-dev.cordon')?.packageJSON?.version ?? '0');
  }

  client(): CordonClient {
    if (!this.current || !this.current.running) {
      throw new Error(this.startError ?? 'the cordon server is not running (cordon: Restart Server)');
    }
    return this.current;
  }

  async start(): Promise<void> {
    const folders = vscode.workspace.workspaceFolders;
    let binary: string;
    try {
      binary = resolveBinary(vscode.workspace.getConfiguration('cordon').get<string>('path'), process.env, folders?.[0]?.uri.fsPath);
    } catch (err) {
      this.startError = err instanceof Error ? err.message : String(err);
      this.bar.show('stopped');
      if (err instanceof MissingBinaryError) {
        void vscode.window.showErrorMessage(this.startError, 'Open Settings').then((pick) => {
          if (pick) void vscode.commands.executeCommand('workbench.action.openSettings', 'cordon.path');
        });
      }
      return;
    }
    this.startError = undefined;
    this.binaryPath = binary;
    const c = new CordonClient({ binary, cwd: folders?.[0]?.uri.fsPath, serverLog: this.serverLog });
    this.current = c;
    try {
      await c.start();
    } catch (err) {
      this.startError = `cordon lsp failed to start: ${err instanceof Error ? err.message : String(err)}`;
      this.serverLog.appendLine(this.startError);
      void vscode.window.showErrorMessage(this.startError);
    }
    await this.refreshStatus();
  }

  async restart(): Promise<void> {
    const old = this.current;
    this.current = undefined;
    if (old?.running) await old.stop().catch(() => undefined);
    await this.start();
  }

  private policyErrors(): number {
    let n = 0;
    for (const [uri, diags] of vscode.languages.getDiagnostics()) {
      if (!uri.path.endsWith('/' + POLICY_FILE)) continue;
      n += diags.filter((d) => d.source === 'cordon' && codeOf(d) === 'policy-error').length;
    }
    return n;
  }

  async refreshStatus(): Promise<PolicyState> {
    let state: PolicyState = 'stopped';
    let detail: string | undefined;
    let layers: string | undefined;
    if (this.current?.running) {
      try {
        const st = await this.current.status();
        state = stateOf(st, this.policyErrors());
        layers = st.layers || st.backend;
        if (st.lastGood && st.error) detail = st.error;
        if (state === 'untrusted') detail = (st.untrusted ?? []).map((w) => `widens: ${w.kind} ${w.target} (line ${w.line})`).join('\n');
      } catch (err) {
        this.serverLog.appendLine(`sandbox/status: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (vscode.workspace.isTrusted === false) state = 'restricted';
    this.bar.show(state, layers, detail);
    return state;
  }

  dispose(): void {
    void this.current?.stop().catch(() => undefined);
    this.bar.dispose();
    this.runs.dispose();
    this.info.dispose();
    this.serverLog.dispose();
  }
}

function codeOf(d: vscode.Diagnostic): string | undefined {
  const c = d.code;
  if (c === undefined) return undefined;
  if (typeof c === 'object') return String(c.value);
  return String(c);
}

export async function activate(ctx: vscode.ExtensionContext): Promise<void> {
  const ext = new Extension();
  ctx.subscriptions.push(ext, ...registerCommands(ext, () => ext.state));
  ctx.subscriptions.push(vscode.tasks.registerTaskProvider(TASK_TYPE, new CordonTaskProvider(() => ext.client())));
  const explain = new ExplainProvider((root) => ext.explainText(root));
  const audit = new AuditProvider(() => auditLogPath());
  ctx.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider(EXPLAIN_SCHEME, explain),
    vscode.workspace.registerTextDocumentContentProvider(AUDIT_SCHEME, audit),
    vscode.window.registerTreeDataProvider('cordon.runs', new RunsView(ext.history)),
  );
  if (vscode.workspace.onDidGrantWorkspaceTrust) {
    ctx.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => void ext.refreshStatus()));
  }
  // Agents: a sandboxed terminal profile, the cordon_run tool, cordon mcp.
  ctx.subscriptions.push(...registerTerminalProfile(ext), ...registerTool(ext), ...registerMcpProvider(ext));
  ctx.subscriptions.push(
    vscode.languages.onDidChangeDiagnostics(() => void ext.refreshStatus()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('cordon.path')) void ext.restart();
    }),
  );
  await ext.start();
}

export function deactivate(): void {
  // The subscriptions stop the server.
}
