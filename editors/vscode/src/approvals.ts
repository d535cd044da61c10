import * as vscode from 'vscode';
import type { ApproveParams, ApproveResult, Decision } from './protocol';

export const ALLOW_ONCE = 'Allow once';
export const ALLOW_ALWAYS = 'Always allow';
export const DENY = 'Deny';

// decisionFor maps the button the user picked to the wire decision.
// Anything else, including a dismissed dialog (undefined), denies: fail closed.
export function decisionFor(choice: string | undefined): Decision {
  switch (choice) {
    case ALLOW_ONCE:
      return 'allow-once';
    case ALLOW_ALWAYS:
      return 'allow-always';
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

// askApproval shows the server's sandbox/approve request as a modal warning.
// A malformed request is denied without asking.
export async function askApproval(params: ApproveParams): Promise<ApproveResult> {
  if (!params || typeof params.target !== 'string' || typeof params.kind !== 'string') {
    return { decision: 'deny' };
  }
  const detail = [params.message, params.command ? `Command: ${params.command}` : '']
    .filter((s) => s)
    .join('\n\n');
  const choice = await vscode.window.showWarningMessage(
    title(params),
    { modal: true, detail },
    ALLOW_ONCE,
    ALLOW_ALWAYS,
    DENY,
  );
  return { decision: decisionFor(choice) };
}
