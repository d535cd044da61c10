// The parts of VS Code's language-model and MCP APIs cordon uses. They are
// newer than the engine this extension supports (1.82), so they are typed
// here and looked up at run time: on an older VS Code the features are
// simply absent.
import * as vscode from 'vscode';

export interface ToolInvocationOptions<T> {
  input: T;
}

export interface PreparedToolInvocation {
  invocationMessage?: string | vscode.MarkdownString;
  confirmationMessages?: { title: string; message: string | vscode.MarkdownString };
}

export interface LanguageModelTool<T> {
  prepareInvocation?(options: ToolInvocationOptions<T>, token: vscode.CancellationToken): PreparedToolInvocation | undefined;
  invoke(options: ToolInvocationOptions<T>, token: vscode.CancellationToken): Promise<unknown>;
}

export interface McpServerDefinitionProvider {
  onDidChangeMcpServerDefinitions?: vscode.Event<void>;
  provideMcpServerDefinitions(token: vscode.CancellationToken): unknown[];
}

interface LmNamespace {
  registerTool?<T>(name: string, tool: LanguageModelTool<T>): vscode.Disposable;
  registerMcpServerDefinitionProvider?(id: string, provider: McpServerDefinitionProvider): vscode.Disposable;
}

type Ctor = new (...args: unknown[]) => unknown;

// api is the vscode module seen as possibly having these members.
export function api(): {
  lm?: LmNamespace;
  LanguageModelToolResult?: Ctor;
  LanguageModelTextPart?: Ctor;
  McpStdioServerDefinition?: Ctor;
} {
  return vscode as unknown as ReturnType<typeof api>;
}
