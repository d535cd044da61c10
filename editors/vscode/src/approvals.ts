import * as vscode from 'vscode';
import type { ApproveParams, ApproveResult, Decision } from './protocol';

export const ALLOW_ONCE = 'Allow once';
export const ALLOW_ALWAYS = 'Always allow';
export const DENY = 'Deny';
export const DENY_ALWAYS = 'Always deny';
export const TRUST = 'Trust this file';
export const NOT_NOW = 'Not now';

interface Choice extends vscode.MessageItem {
  decision: Decision;
}

const LABELS: Record<Decision, string> = {
  'allow-once': ALLOW_ONCE,
  'allow-always': ALLOW_ALWAYS,
  deny: DENY,
  'deny-always': DENY_ALWAYS,
};

// choicesFor lists the buttons for a question: the decisions the server
// offers when it names them, else the kind's usual set. The refusing
// choice is the dialog's close affordance (Escape, the close button), so
// VS Code adds no Cancel of its own and there is no second Deny.
export function choicesFor(p: ApproveParams): Choice[] {
  if (p.kind === 'policy') {
    // The trust question has its own answers, not the network ones.
    return [
      { title: TRUST, decision: 'allow-always' },
      { title: NOT_NOW, decision: 'deny', isCloseAffordance: true },
    ];
  }
  let ds: Decision[];
  if (Array.isArray(p.choices) && p.choices.length > 0) {
    ds = p.choices.filter((d): d is Decision => typeof d === 'string' && d in LABELS);
  } else if (p.kind === 'filesystem') {
    ds = ['allow-once', 'allow-always', 'deny'];
  } else {
    ds = ['allow-once', 'allow-always', 'deny-always', 'deny'];
  }
  if (!ds.includes('deny')) ds.push('deny');
  // The close affordance goes last, as VS Code shows its Cancel.
  return [...ds.filter((d) => d !== 'deny'), 'deny' as Decision].map((d) =>
    d === 'deny' ? { title: DENY, decision: d, isCloseAffordance: true } : { title: LABELS[d], decision: d },
  );
}

// decisionFor maps the button the user picked to the wire decision.
// Anything else, including a dismissed dialog (undefined), denies: fail closed.
export function decisionFor(choice: string | vscode.MessageItem | undefined, offered?: Choice[]): Decision {
  if (choice && typeof choice === 'object' && 'decision' in choice && (!offered || offered.includes(choice as Choice))) {
    return (choice as Choice).decision;
  }
  switch (choice) {
    case ALLOW_ONCE:
      return 'allow-once';
    case ALLOW_ALWAYS:
      return 'allow-always';
    case DENY_ALWAYS:
      return 'deny-always';
    default:
      return 'deny';
  }
}

function title(p: ApproveParams): string {
  switch (p.kind) {
    case 'network':
      return `cordon: allow a connection to ${p.target}?`;
    case 'filesystem':
      return `cordon: allow access to ${p.target}?`;
    case 'policy':
      return `cordon: trust the workspace policy ${p.target}?`;
    default:
      return `cordon: allow ${String(p.target)}?`;
  }
}

// askApproval shows the server's sandbox/approve request as a modal warning
// with exactly the choices offered. A malformed request is denied without
// asking.
export async function askApproval(params: ApproveParams): Promise<ApproveResult> {
  if (!params || typeof params.target !== 'string' || typeof params.kind !== 'string') {
    return { decision: 'deny' };
  }
  const detail = [params.message, params.command ? `Command: ${params.command}` : '']
    .filter((s) => s)
    .join('\n\n');
  const offered = choicesFor(params);
  const choice = await vscode.window.showWarningMessage(title(params), { modal: true, detail }, ...offered);
  return { decision: decisionFor(choice, offered) };
}
