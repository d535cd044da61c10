import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CordonClient } from './client';
import { auditLogPath, POLICY_FILE, STARTER } from './policy';
import type { RunResult } from './protocol';
import { describeExit, describeViolation } from './runs';
import { formatStatus, type PolicyState } from './status';

export const Command = {
  runCommand: 'cordon.runCommand',
  runSelection: 'cordon.runSelection',
  showStatus: 'cordon.showStatus',
  openPolicy: 'cordon.openPolicy',
  showAuditLog: 'cordon.showAuditLog',
  restartServer: 'cordon.restartServer',
} as const;

// Host is what the commands need from the extension.
export interface Host {
  // client returns the running client, or throws saying why there is none.
  client(): CordonClient;
  restart(): Promise<void>;
  refreshStatus(): Promise<PolicyState>;
  runs: vscode.OutputChannel;
  info: vscode.OutputChannel;
}

function folderFor(uri?: vscode.Uri): vscode.WorkspaceFolder | undefined {
  if (uri) {
    const f = vscode.workspace.getWorkspaceFolder(uri);
    if (f) return f;
  }
  return vscode.workspace.workspaceFolders?.[0];
}

// runInChannel runs one shell string and shows it in the runs channel.
export async function runInChannel(host: Host, command: string, cwd?: string): Promise<RunResult | undefined> {
  const ch = host.runs;
  ch.show(true);
  ch.appendLine(`$ ${command}`);
  try {
    const res = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `cordon: ${command}`,
        cancellable: true,
      },
      (_p, token) =>
        host.client().run({ command, cwd, label: command }, { output: (_s, d) => ch.append(d) }, token),
    );
    for (const v of res.violations ?? []) ch.appendLine(describeViolation(v));
    ch.appendLine(describeExit(res.exitCode, res.signal));
    return res;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    ch.appendLine(`[cordon] run failed: ${msg}`);
    void vscode.window.showErrorMessage(`cordon: run failed: ${msg}`);
    return undefined;
  }
}

async function runCommand(host: Host): Promise<RunResult | undefined> {
  const command = await vscode.window.showInputBox({
    title: 'Run Command in Sandbox',
    prompt: 'A shell command; it runs under /bin/sh -c inside the sandbox',
    placeHolder: 'npm test',
    ignoreFocusOut: true,
  });
  if (!command || !command.trim()) return undefined;
  return runInChannel(host, command, folderFor(vscode.window.activeTextEditor?.document.uri)?.uri.fsPath);
}

async function runSelection(host: Host): Promise<RunResult | undefined> {
  const ed = vscode.window.activeTextEditor;
  if (!ed) {
    void vscode.window.showWarningMessage('cordon: no editor with a selection');
    return undefined;
  }
  const sel = ed.selection;
  const text = sel.isEmpty ? ed.document.lineAt(sel.active.line).text : ed.document.getText(sel);
  if (!text.trim()) {
    void vscode.window.showWarningMessage('cordon: the selection is empty');
    return undefined;
  }
  return runInChannel(host, text, folderFor(ed.document.uri)?.uri.fsPath);
}

async function showStatus(host: Host): Promise<void> {
  try {
    const state = await host.refreshStatus();
    const s = await host.client().status();
    host.info.clear();
    host.info.appendLine(formatStatus(s, state));
    host.info.show(true);
  } catch (err) {
    void vscode.window.showErrorMessage(`cordon: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// openPolicy opens the workspace's .sandbox.toml, writing the commented
// starter first when there is none. It never overwrites an existing file.
export async function openPolicy(uri?: vscode.Uri): Promise<vscode.Uri | undefined> {
  const folder = folderFor(uri ?? vscode.window.activeTextEditor?.document.uri);
  if (!folder) {
    void vscode.window.showWarningMessage('cordon: open a folder first; the policy lives at its root');
    return undefined;
  }
  const file = path.join(folder.uri.fsPath, POLICY_FILE);
  try {
    await fs.writeFile(file, STARTER, { flag: 'wx', mode: 0o644 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      void vscode.window.showErrorMessage(`cordon: cannot create ${file}: ${(err as Error).message}`);
      return undefined;
    }
  }
  const target = vscode.Uri.file(file);
  const doc = await vscode.workspace.openTextDocument(target);
  await vscode.window.showTextDocument(doc);
  return target;
}

async function showAuditLog(): Promise<void> {
  const file = auditLogPath();
  try {
    await fs.access(file);
  } catch {
    void vscode.window.showInformationMessage(`cordon: no audit log yet (${file}); it starts with the first network decision.`);
    return;
  }
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
  await vscode.window.showTextDocument(doc, { preview: true });
}

export function registerCommands(host: Host): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(Command.runCommand, () => runCommand(host)),
    vscode.commands.registerCommand(Command.runSelection, () => runSelection(host)),
    vscode.commands.registerCommand(Command.showStatus, () => showStatus(host)),
    vscode.commands.registerCommand(Command.openPolicy, (uri?: vscode.Uri) => openPolicy(uri)),
    vscode.commands.registerCommand(Command.showAuditLog, () => showAuditLog()),
    vscode.commands.registerCommand(Command.restartServer, () => host.restart()),
  ];
}
