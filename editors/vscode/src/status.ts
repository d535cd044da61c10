import * as vscode from 'vscode';
import type { StatusResult } from './protocol';

export type PolicyState =
  | 'active'
  | 'defaults'
  | 'invalid'
  | 'untrusted'
  | 'backend-missing'
  | 'restricted'
  | 'stopped';

// stateOf reduces the server's status and the policy's diagnostics to the
// one state the status bar shows; the worst applies.
export function stateOf(status: StatusResult | undefined, policyErrors: number): PolicyState {
  if (!status) return 'stopped';
  const backend = (status.backend ?? '').toString().toLowerCase();
  if (!backend || backend === 'none' || backend === 'unavailable' || backend === 'missing') {
    return 'backend-missing';
  }
  if (status.lastGood || policyErrors > 0) return 'invalid';
  if (!status.policyFile) return 'defaults';
  if (status.trusted === false && (status.untrusted?.length ?? 1) > 0) return 'untrusted';
  return 'active';
}

const LOOK: Record<PolicyState, { text: string; tip: string; warn: boolean }> = {
  active: { text: '$(shield) cordon', tip: 'cordon: sandbox active', warn: false },
  defaults: {
    text: '$(shield) cordon: defaults',
    tip: 'cordon: no .sandbox.toml here; the built-in defaults apply (the workspace writable, credentials unreadable, every host asked)',
    warn: false,
  },
  invalid: {
    text: '$(error) cordon: invalid policy',
    tip: 'cordon: .sandbox.toml has errors; the LAST GOOD policy stays in force until they are fixed',
    warn: true,
  },
  untrusted: {
    text: '$(warning) cordon: untrusted',
    tip: 'cordon: the workspace policy widens your defaults and is not trusted yet; runs proceed without the widening (click: Trust)',
    warn: true,
  },
  'backend-missing': {
    text: '$(error) cordon: no sandbox',
    tip: 'cordon: no sandbox backend on this machine (run `cordon doctor`); runs are refused',
    warn: true,
  },
  restricted: {
    text: '$(lock) cordon: restricted',
    tip: 'cordon: this workspace is in Restricted Mode; cordon runs nothing until you trust the workspace in VS Code',
    warn: true,
  },
  stopped: { text: '$(circle-slash) cordon', tip: 'cordon: server not running', warn: true },
};

// StatusBar is the status bar item; clicking it opens cordon's menu.
export class StatusBar implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;
  state: PolicyState = 'stopped';

  constructor(command: string) {
    this.item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
    this.item.command = command;
    this.show('stopped');
    this.item.show();
  }

  // show sets the item for state; layers (sandbox/status's "bwrap +
  // seccomp + Landlock ABI 7") joins the tooltip while runs are sandboxed,
  // and detail (what widens, why the file is invalid) follows it.
  show(state: PolicyState, layers?: string, detail?: string): void {
    this.state = state;
    const look = LOOK[state];
    this.item.text = look.text;
    const tip = layers && state !== 'backend-missing' && state !== 'stopped' && state !== 'restricted' ? `${look.tip}: ${layers}` : look.tip;
    this.item.tooltip = detail ? `${tip}\n\n${detail}` : tip;
    this.item.backgroundColor = look.warn
      ? new vscode.ThemeColor(state === 'invalid' || state === 'backend-missing' ? 'statusBarItem.errorBackground' : 'statusBarItem.warningBackground')
      : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}

// formatStatus renders sandbox/status for the output channel.
export function formatStatus(s: StatusResult, state: PolicyState): string {
  const lines = [
    `state:      ${state}`,
    `root:       ${s.root}`,
    `policy:     ${s.policyFile || '(none: built-in defaults)'}`,
    `hash:       ${s.policyHash || '-'}`,
    `trusted:    ${s.policyFile ? s.trusted : '- (no file)'}`,
  ];
  if (s.lastGood) lines.push(`INVALID:    the file on disk has errors; the last good policy is in force`, `error:      ${s.error ?? ''}`);
  for (const w of s.untrusted ?? []) lines.push(`widens:     ${w.kind} ${w.target} (line ${w.line}), not in force until trusted`);
  lines.push(
    `backend:    ${s.backend || '(none)'}`,
    `layers:     ${s.layers || s.backend || '(none)'}`,
    `capabilities: ${JSON.stringify(s.capabilities ?? {}, null, 2)}`,
    `runs:       ${JSON.stringify(s.runs ?? [])}`,
  );
  return lines.join('\n');
}
