import * as vscode from 'vscode';
import type { CordonClient } from './client';
import { api, type LanguageModelTool, type PreparedToolInvocation } from './lmapi';
import type { RunResult } from './protocol';
import { describeExit, describeViolation } from './runs';

// The language-model tool cordon_run: VS Code's agent mode (and any chat
// participant) runs shell commands through sandbox/run, so they execute in
// the workspace's sandbox, approvals are asked in this window, and the
// model reads the output and what was blocked.
export const TOOL_NAME = 'cordon_run';

export interface RunInput {
  command: string;
  cwd?: string;
  timeoutMs?: number;
}

// Output shown to the model is bounded per stream; the start and the end
// are kept.
export const OUTPUT_LIMIT = 64 * 1024;

export interface ToolHost {
  client(): CordonClient;
}

function folderOf(cwd?: string): string | undefined {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (cwd) {
    const f = folders.find((x) => cwd === x.uri.fsPath || cwd.startsWith(x.uri.fsPath + '/'));
    if (f) return f.uri.fsPath;
  }
  return folders[0]?.uri.fsPath;
}

export function prepare(input: RunInput): PreparedToolInvocation {
  const where = folderOf(input.cwd) ?? 'the workspace';
  const cwd = input.cwd ? ` (in ${input.cwd})` : '';
  return {
    invocationMessage: new vscode.MarkdownString(`Running \`${input.command.replace(/`/g, "'")}\`${cwd} in the cordon sandbox of ${where}`),
  };
}

// bound keeps the first 3/4 and the last 1/4 of limit characters.
export function bound(s: string, limit = OUTPUT_LIMIT): { text: string; truncated: boolean } {
  if (s.length <= limit) return { text: s, truncated: false };
  const head = s.slice(0, limit - Math.floor(limit / 4));
  const tail = s.slice(s.length - Math.floor(limit / 4));
  return { text: `${head}\n[… ${s.length - head.length - tail.length} characters omitted …]\n${tail}`, truncated: true };
}

export function resultText(input: RunInput, stdout: string, stderr: string, res: RunResult): string {
  const lines = [`$ ${input.command}`, describeExit(res.exitCode, res.signal)];
  const out = bound(stdout);
  const err = bound(stderr);
  if (out.text) lines.push('', 'stdout:', out.text.replace(/\n$/, ''));
  if (err.text) lines.push('', 'stderr:', err.text.replace(/\n$/, ''));
  if (res.violations?.length) {
    lines.push('', 'The sandbox blocked (ask the user to change .sandbox.toml if the command needs it; do not work around it):');
    for (const v of res.violations) lines.push(`- ${describeViolation(v)}`);
  }
  return lines.join('\n') + '\n';
}

export async function invoke(host: ToolHost, input: RunInput, token: vscode.CancellationToken): Promise<string> {
  if (typeof input?.command !== 'string' || !input.command.trim()) {
    throw new Error('cordon_run: "command" must be a non-empty string');
  }
  let stdout = '';
  let stderr = '';
  const res = await host.client().run(
    {
      command: input.command,
      ...(input.cwd ? { cwd: input.cwd } : {}),
      ...(input.timeoutMs ? { timeoutMs: input.timeoutMs } : {}),
      label: input.command,
    },
    {
      output: (stream, data) => {
        // Keep a little more than the limit; bound() cuts it for the model.
        if (stream === 'stderr') stderr = keep(stderr + data);
        else stdout = keep(stdout + data);
      },
    },
    token,
  );
  return resultText(input, stdout, stderr, res);
}

// keep caps what is held while a run streams: the start and a moving end.
function keep(s: string): string {
  const max = OUTPUT_LIMIT * 4;
  if (s.length <= max) return s;
  return s.slice(0, OUTPUT_LIMIT) + s.slice(s.length - (max - OUTPUT_LIMIT));
}

export function registerTool(host: ToolHost): vscode.Disposable[] {
  const v = api();
  if (!v.lm?.registerTool || !v.LanguageModelToolResult || !v.LanguageModelTextPart) return [];
  const Result = v.LanguageModelToolResult;
  const Text = v.LanguageModelTextPart;
  const tool: LanguageModelTool<RunInput> = {
    prepareInvocation: (options) => prepare(options.input),
    async invoke(options, token) {
      const text = await invoke(host, options.input, token);
      return new Result([new Text(text)]);
    },
  };
  return [v.lm.registerTool(TOOL_NAME, tool)];
}
