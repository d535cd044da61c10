import * as vscode from 'vscode';
import { MissingBinaryError, resolveBinary } from './binary';
import { CordonClient } from './client';
import { Command, registerCommands, type Host } from './commands';
import { POLICY_FILE } from './policy';
import { StatusBar, stateOf, type PolicyState } from './status';
import { CordonTaskProvider, TASK_TYPE } from './tasks';
import { registerTerminalProfile } from './terminal';
import { registerTool } from './lmtool';
import { registerMcpProvider } from './mcp';

// Extension owns the one server process and the UI around it.
class Extension implements Host, vscode.Disposable {
  readonly runs = vscode.window.createOutputChannel('cordon: runs');
  readonly info = vscode.window.createOutputChannel('cordon: status');
  private readonly serverLog = vscode.window.createOutputChannel('cordon: server');
  private readonly bar = new StatusBar(Command.showStatus);
  private current: CordonClient | undefined;
  private startError: string | undefined;

  // binary resolves the cordon executable as the server was started with.
  binary(): string {
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
    let layers: string | undefined;
    if (this.current?.running) {
      try {
        const st = await this.current.status();
        state = stateOf(st, this.policyErrors());
        layers = st.layers || st.backend;
      } catch (err) {
        this.serverLog.appendLine(`sandbox/status: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.bar.show(state, layers);
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
  ctx.subscriptions.push(ext, ...registerCommands(ext));
  ctx.subscriptions.push(vscode.tasks.registerTaskProvider(TASK_TYPE, new CordonTaskProvider(() => ext.client())));
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
