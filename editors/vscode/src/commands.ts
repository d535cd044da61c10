import * as vscode from 'vscode';
import { NOT_NOW, TRUST } from './approvals';
import type { CordonClient } from './client';
import { auditUri, explainUri, parseAudit } from './docs';
import { recordOf, type RunHistory } from './history';
import { auditLogPath, initPolicy } from './policy';
import { ServerCommand, type RunResult, type StatusResult } from './protocol';
import { describeExit, describeViolation } from './runs';
import { formatStatus, type PolicyState } from './status';

export const Command = {
  runCommand: 'cordon.runCommand',
  runSelection: 'cordon.runSelection',
  showStatus: 'cordon.showStatus',
  openPolicy: 'cordon.openPolicy',
  showAuditLog: 'cordon.showAuditLog',
  restartServer: 'cordon.restartServer',
  menu: 'cordon.menu',
  explain: 'cordon.explain',
  trust: 'cordon.trust',
  untrust: 'cordon.untrust',
  showLog: 'cordon.showLog',
  clearRuns: 'cordon.clearRuns',
  revokeAllow: 'cordon.revokeAllow',
} as const;

// Host is what the commands need from the extension.
export interface Host {
  // client returns the running client, or throws saying why there is none.
  client(): CordonClient;
  restart(): Promise<void>;
  refreshStatus(): Promise<PolicyState>;
  runs: vscode.OutputChannel;
  info: vscode.OutputChannel;
  serverLog?: vscode.OutputChannel;
  history?: RunHistory;
  // binary is the cordon binary in use, for `cordon init`.
  binary?(): string | undefined;
}

function folderFor(uri?: vscode.Uri): vscode.WorkspaceFolder | undefined {
  if (uri) {
    const f = vscode.workspace.getWorkspaceFolder(uri);
    if (f) return f;
  }
  return vscode.workspace.workspaceFolders?.[0];
}

function activeFolder(): vscode.WorkspaceFolder | undefined {
  return folderFor(vscode.window.activeTextEditor?.document.uri);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// runInChannel runs one shell string and shows it in the runs channel (one
// channel, reused by every run), keeping it in the history.
export async function runInChannel(host: Host, command: string, cwd?: string): Promise<RunResult | undefined> {
  const ch = host.runs;
  ch.show(true);
  ch.appendLine(`$ ${command}`);
  const started = Date.now();
  let cancelled = false;
  try {
    const res = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `cordon: ${command}`,
        cancellable: true,
      },
      (_p, token) => {
        token.onCancellationRequested(() => {
          cancelled = true;
        });
        return host.client().run({ command, cwd, label: command }, { output: (_s, d) => ch.append(d) }, token);
      },
    );
    for (const v of res.violations ?? []) ch.appendLine(describeViolation(v));
    ch.appendLine(describeExit(res.exitCode, res.signal));
    host.history?.add(recordOf(command, started, res));
    return res;
  } catch (err) {
    host.history?.add(recordOf(command, started, undefined, err, cancelled));
    if (cancelled) {
      ch.appendLine('[cordon] cancelled: every process of the run was killed');
      return undefined;
    }
    ch.appendLine(`[cordon] run failed: ${message(err)}`);
    void vscode.window.showErrorMessage(`cordon: run failed: ${message(err)}`);
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
  return runInChannel(host, command, activeFolder()?.uri.fsPath);
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
    void vscode.window.showErrorMessage(`cordon: ${message(err)}`);
  }
}

// openPolicy opens the workspace's .sandbox.toml, having `cordon init`
// write its starter first when there is none (it never overwrites).
export async function openPolicy(host: Host | undefined, uri?: vscode.Uri): Promise<vscode.Uri | undefined> {
  const folder = folderFor(uri ?? vscode.window.activeTextEditor?.document.uri);
  if (!folder) {
    void vscode.window.showWarningMessage('cordon: open a folder first; the policy lives at its root');
    return undefined;
  }
  let binary: string | undefined;
  try {
    binary = host?.binary?.();
  } catch {
    binary = undefined;
  }
  if (!binary) {
    void vscode.window.showErrorMessage('cordon: the cordon binary is not available (cordon.path) to write the starter policy');
    return undefined;
  }
  let file: string;
  try {
    file = await initPolicy(binary, folder.uri.fsPath);
  } catch (err) {
    void vscode.window.showErrorMessage(`cordon: cannot create the policy: ${message(err)}`);
    return undefined;
  }
  const target = vscode.Uri.file(file);
  const doc = await vscode.workspace.openTextDocument(target);
  await vscode.window.showTextDocument(doc);
  return target;
}

// showAuditLog opens the audit log as a table, filtered by run or host.
async function showAuditLog(): Promise<vscode.Uri | undefined> {
  let entries: ReturnType<typeof parseAudit> = [];
  try {
    entries = parseAudit(await import('node:fs/promises').then((fs) => fs.readFile(auditLogPath(), 'utf8')));
  } catch {
    void vscode.window.showInformationMessage(`cordon: no audit log yet (${auditLogPath()}); it starts with the first network decision.`);
    return undefined;
  }
  const runs = [...new Set(entries.map((e) => e.run).filter((r): r is string => !!r))];
  const hosts = [...new Set(entries.map((e) => e.host))];
  const picks: (vscode.QuickPickItem & { filter: { run?: string; host?: string } })[] = [
    { label: 'All decisions', description: `${entries.length}`, filter: {} },
    ...hosts.map((h) => ({ label: `Host ${h}`, filter: { host: h } })),
    ...runs.reverse().map((r) => ({ label: `Run ${r}`, description: entries.find((e) => e.run === r)?.command, filter: { run: r } })),
  ];
  const pick = entries.length > 0 ? await vscode.window.showQuickPick(picks, { title: 'cordon: audit log', placeHolder: 'Show every decision, or one host or run' }) : picks[0];
  if (!pick) return undefined;
  const uri = auditUri(pick.filter);
  const doc = await vscode.workspace.openTextDocument(uri);
  await vscode.window.showTextDocument(doc, { preview: true });
  return uri;
}

async function status(host: Host): Promise<StatusResult | undefined> {
  try {
    return await host.client().status();
  } catch (err) {
    void vscode.window.showErrorMessage(`cordon: ${message(err)}`);
    return undefined;
  }
}

// explain opens `cordon explain` of the folder's live policy, read-only.
export async function explain(root?: string): Promise<vscode.Uri> {
  const uri = explainUri(root ?? activeFolder()?.uri.fsPath);
  const doc = await vscode.workspace.openTextDocument(uri);
  await vscode.window.showTextDocument(doc, { preview: true });
  return uri;
}

// trust shows what the policy file widens and asks, with its own buttons,
// before trusting exactly that content. It runs on an explicit action only.
export async function trust(host: Host): Promise<boolean> {
  const s = await status(host);
  if (!s) return false;
  if (!s.policyFile) {
    void vscode.window.showInformationMessage('cordon: no .sandbox.toml here: the defaults apply and there is nothing to trust');
    return false;
  }
  if (s.trusted && !(s.untrusted?.length)) {
    void vscode.window.showInformationMessage(`cordon: ${s.policyFile} is trusted`);
    return true;
  }
  const lines = (s.untrusted ?? []).map((w) => `• ${w.kind} ${w.target} (line ${w.line})`);
  const pick = await vscode.window.showWarningMessage(
    `cordon: trust ${s.policyFile}?`,
    {
      modal: true,
      detail: `It widens what the sandbox allows:\n${lines.join('\n')}\n\nUntil you trust this content, runs proceed without these.`,
    },
    { title: TRUST },
    { title: NOT_NOW, isCloseAffordance: true },
  );
  if (pick?.title !== TRUST) return false;
  try {
    await host.client().command(ServerCommand.trust, { root: s.root, hash: s.policyHash });
  } catch (err) {
    void vscode.window.showErrorMessage(`cordon: trust: ${message(err)}`);
    return false;
  }
  await host.refreshStatus();
  void vscode.window.showInformationMessage(`cordon: trusted ${s.policyFile}`);
  return true;
}

export async function untrust(host: Host): Promise<boolean> {
  const s = await status(host);
  if (!s?.policyFile) return false;
  try {
    await host.client().command(ServerCommand.untrust, { root: s.root });
  } catch (err) {
    void vscode.window.showErrorMessage(`cordon: untrust: ${message(err)}`);
    return false;
  }
  await host.refreshStatus();
  void vscode.window.showInformationMessage(`cordon: ${s.policyFile} is no longer trusted; its widenings stop applying`);
  return true;
}

// alwaysAllowed lists the hosts the user answered "Always allow" for, as
// the rule was written (host:port), newest first.
export function alwaysAllowed(entries: ReturnType<typeof parseAudit>): string[] {
  const out: string[] = [];
  for (const e of [...entries].reverse()) {
    if (e.answer !== 'allow-always') continue;
    const host = e.host.includes(':') && !e.host.startsWith('[') ? `[${e.host}]` : e.host;
    const rule = `${host}:${e.port}`;
    if (!out.includes(rule)) out.push(rule);
  }
  return out;
}

// revokeAllow takes an "Always allow" back: the server removes the host
// from [network] allow through workspace/applyEdit.
export async function revokeAllow(host: Host, rule?: string): Promise<boolean> {
  if (!rule) {
    let entries: ReturnType<typeof parseAudit> = [];
    try {
      entries = parseAudit(await import('node:fs/promises').then((fs) => fs.readFile(auditLogPath(), 'utf8')));
    } catch {
      // no log: nothing was always allowed from an editor
    }
    const rules = alwaysAllowed(entries);
    if (rules.length === 0) {
      void vscode.window.showInformationMessage('cordon: no "Always allow" answer in the audit log to revoke');
      return false;
    }
    rule = (await vscode.window.showQuickPick(rules, { title: 'cordon: revoke an Always allow', placeHolder: 'The host leaves [network] allow of .sandbox.toml' })) ?? undefined;
    if (!rule) return false;
  }
  try {
    await host.client().command(ServerCommand.revoke, { root: activeFolder()?.uri.fsPath, host: rule });
  } catch (err) {
    void vscode.window.showErrorMessage(`cordon: revoke ${rule}: ${message(err)}`);
    return false;
  }
  void vscode.window.showInformationMessage(`cordon: ${rule} is no longer allowed`);
  return true;
}

// menu is what the status item opens: everything cordon offers here.
export async function menu(host: Host, state: PolicyState): Promise<void> {
  const items: (vscode.QuickPickItem & { command: string })[] = [
    { label: '$(info) Show Status', command: Command.showStatus },
    { label: '$(book) Explain Policy', description: 'the effective policy, rule by rule', command: Command.explain },
    { label: '$(go-to-file) Open Policy', description: state === 'defaults' ? 'create .sandbox.toml (cordon init)' : '.sandbox.toml', command: Command.openPolicy },
  ];
  if (state === 'untrusted') items.push({ label: '$(workspace-trusted) Trust Policy…', description: 'see what it widens first', command: Command.trust });
  else if (state === 'active') items.push({ label: '$(workspace-untrusted) Untrust Policy', command: Command.untrust });
  items.push(
    { label: '$(play) Run Command in Sandbox…', command: Command.runCommand },
    { label: '$(list-flat) Show Audit Log', command: Command.showAuditLog },
    { label: '$(remove) Revoke an Always Allow…', command: Command.revokeAllow },
    { label: '$(output) Show Server Log', command: Command.showLog },
    { label: '$(debug-restart) Restart Server', command: Command.restartServer },
  );
  const pick = await vscode.window.showQuickPick(items, { title: 'cordon', placeHolder: `cordon: ${state}` });
  if (pick) await vscode.commands.executeCommand(pick.command);
}

export function registerCommands(host: Host, state: () => PolicyState = () => 'active'): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(Command.runCommand, () => runCommand(host)),
    vscode.commands.registerCommand(Command.runSelection, () => runSelection(host)),
    vscode.commands.registerCommand(Command.showStatus, () => showStatus(host)),
    vscode.commands.registerCommand(Command.openPolicy, (uri?: vscode.Uri) => openPolicy(host, uri)),
    vscode.commands.registerCommand(Command.showAuditLog, () => showAuditLog()),
    vscode.commands.registerCommand(Command.restartServer, () => host.restart()),
    vscode.commands.registerCommand(Command.menu, () => menu(host, state())),
    vscode.commands.registerCommand(Command.explain, (root?: string) => explain(typeof root === 'string' ? root : undefined)),
    vscode.commands.registerCommand(Command.trust, () => trust(host)),
    vscode.commands.registerCommand(Command.untrust, () => untrust(host)),
    vscode.commands.registerCommand(Command.showLog, () => host.serverLog?.show(true)),
    vscode.commands.registerCommand(Command.revokeAllow, (rule?: string) => revokeAllow(host, typeof rule === 'string' ? rule : undefined)),
    vscode.commands.registerCommand(Command.clearRuns, async () => {
      host.history?.clear();
      try {
        await host.client().command(ServerCommand.clearViolations, {});
      } catch {
        // no server: nothing to clear there
      }
    }),
  ];
}
