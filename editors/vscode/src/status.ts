import * as vscode from 'vscode';
import type { StatusResult } from './protocol';

export type PolicyState = 'active' | 'invalid' | 'untrusted' | 'backend-missing' | 'stopped';

// stateOf reduces the server's status and the policy's diagnostics to the
// one state the status bar shows; the worst applies.
export function stateOf(status: StatusResult | undefined, policyErrors: number): PolicyState {
  if (!status) return 'stopped';
  const backend = (status.backend ?? '').toString().toLowerCase();
  if (!backend || backend === 'none' || backend === 'unavailable' || backend === 'missing') {
    return 'backend-missing';
  }
  if (policyErrors > 0) return 'invalid';
  if (status.policyFile && status.trusted === false) return 'untrusted';
  return 'active';
}

const LOOK: Record<PolicyState, { text: string; tip: string; warn: boolean }> = {
  active: { text: '$(shield) cordon', tip: 'cordon: sandbox active', warn: false },
  invalid: {
    text: '$(error) cordon: invalid policy',
    tip: 'cordon: .sandbox.toml has errors; the last good policy stays in force',
    warn: true,
  },
  untrusted: {
    text: '$(warning) cordon: untrusted',
    tip: 'cordon: the workspace policy widens your defaults and is not approved yet; runs proceed without the widening',
    warn: true,
  },
  'backend-missing': {
    text: '$(error) cordon: no sandbox',
    tip: 'cordon: no sandbox backend on this machine (run `cordon doctor`); runs are refused',
    warn: true,
  },
  stopped: { text: '$(circle-slash) cordon', tip: 'cordon: server not running', warn: true },
};

// StatusBar is the status bar item; clicking it shows the status.
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
  // seccomp + Landlock ABI 7") joins the tooltip while runs are sandboxed.
  show(state: PolicyState, layers?: string): void {
    this.state = state;
    const look = LOOK[state];
    this.item.text = look.text;
    this.item.tooltip = layers && state !== 'backend-missing' && state !== 'stopped' ? `${look.tip}: ${layers}` : look.tip;
    this.item.backgroundColor = look.warn
      ? new vscode.ThemeColor('statusBarItem.warningBackground')
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
    `trusted:    ${s.trusted}`,
    `backend:    ${s.backend || '(none)'}`,
    `layers:     ${s.layers || s.backend || '(none)'}`,
    `capabilities: ${JSON.stringify(s.capabilities ?? {}, null, 2)}`,
    `runs:       ${JSON.stringify(s.runs ?? [])}`,
  ];
  return lines.join('\n');
}
