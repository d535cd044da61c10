import * as vscode from 'vscode';

// The terminal profile "cordon (sandboxed)": an integrated terminal whose
// shell is `cordon shell`, so whatever runs in it (an agent that drives the
// integrated terminal included, once the profile is its default) runs in
// the workspace's sandbox. Its approvals and violations come to this
// window through the workspace's control socket.
export const TERMINAL_PROFILE = 'cordon.terminal';
export const TERMINAL_NAME = 'cordon (sandboxed)';

export interface TerminalHost {
  binary(): string; // throws when cordon cannot be found
}

export function terminalOptions(binary: string, folder?: string): vscode.TerminalOptions {
  return {
    name: TERMINAL_NAME,
    shellPath: binary,
    shellArgs: ['shell', '-l'],
    cwd: folder,
    iconPath: new vscode.ThemeIcon('shield'),
  };
}

export function registerTerminalProfile(host: TerminalHost): vscode.Disposable[] {
  const w = vscode.window as unknown as {
    registerTerminalProfileProvider?: (id: string, p: vscode.TerminalProfileProvider) => vscode.Disposable;
  };
  if (!w.registerTerminalProfileProvider) return [];
  return [
    w.registerTerminalProfileProvider(TERMINAL_PROFILE, {
      provideTerminalProfile(): vscode.TerminalProfile {
        const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
        return new vscode.TerminalProfile(terminalOptions(host.binary(), folder));
      },
    }),
  ];
}
