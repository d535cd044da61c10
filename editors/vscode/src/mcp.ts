import * as vscode from 'vscode';
import { api } from './lmapi';

// The MCP server definition provider: `cordon mcp -w FOLDER` for each open
// workspace folder, so MCP clients inside VS Code (agent mode, extensions)
// get the sandboxed run/status/explain tools without a hand-written
// mcp.json.
export const MCP_PROVIDER = 'cordon.mcp';

export interface McpHost {
  binary(): string;
  version(): string;
}

export interface StdioDefinition {
  label: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  version: string;
}

export function definitions(host: McpHost, folders: readonly vscode.WorkspaceFolder[]): StdioDefinition[] {
  let binary: string;
  try {
    binary = host.binary();
  } catch {
    return []; // no cordon: nothing to offer (the status item says why)
  }
  return folders.map((f) => ({
    label: folders.length > 1 ? `cordon (${f.name})` : 'cordon',
    command: binary,
    args: ['mcp', '-w', f.uri.fsPath],
    env: {},
    version: host.version(),
  }));
}

export function registerMcpProvider(host: McpHost): vscode.Disposable[] {
  const v = api();
  if (!v.lm?.registerMcpServerDefinitionProvider || !v.McpStdioServerDefinition) return [];
  const Def = v.McpStdioServerDefinition;
  const changed = new vscode.EventEmitter<void>();
  const provider = {
    onDidChangeMcpServerDefinitions: changed.event,
    provideMcpServerDefinitions: () =>
      definitions(host, vscode.workspace.workspaceFolders ?? []).map((d) => new Def(d.label, d.command, d.args, d.env, d.version)),
  };
  return [
    changed,
    vscode.workspace.onDidChangeWorkspaceFolders(() => changed.fire()),
    v.lm.registerMcpServerDefinitionProvider(MCP_PROVIDER, provider),
  ];
}
