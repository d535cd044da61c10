import * as vscode from 'vscode';
import { LanguageClient, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';
import { askApproval } from './approvals';
import {
  Method,
  type ApproveParams,
  type OutputParams,
  type RunParams,
  type RunResult,
  type StatusResult,
  type Violation,
} from './protocol';
import { RunRegistry, type Sink } from './runs';

export interface ClientOptions {
  binary: string;
  cwd?: string;
  serverLog: vscode.OutputChannel;
  traceLog?: vscode.OutputChannel;
  onViolation?: (v: Violation) => void;
  // approve answers sandbox/approve; the modal warning by default.
  approve?: (p: ApproveParams) => Promise<{ decision: string }>;
}

// CordonClient is one `cordon lsp` process serving every workspace folder.
export class CordonClient {
  readonly lc: LanguageClient;
  private readonly runs = new RunRegistry();

  constructor(opts: ClientOptions) {
    const serverOptions: ServerOptions = {
      command: opts.binary,
      // No transport: stdio by default, without the --stdio argument the
      // client would append (the contract is plain `cordon lsp`).
      args: ['lsp'],
      options: opts.cwd ? { cwd: opts.cwd } : undefined,
    };
    const clientOptions: LanguageClientOptions = {
      // Violations land on any file in the workspace, the policy included.
      documentSelector: [{ scheme: 'file' }],
      diagnosticCollectionName: 'cordon',
      outputChannel: opts.serverLog,
      traceOutputChannel: opts.traceLog,
      initializationOptions: { approvals: true },
    };
    this.lc = new LanguageClient('cordon', 'cordon', serverOptions, clientOptions);
    const approve = opts.approve ?? askApproval;
    this.lc.onRequest(Method.approve, (p: ApproveParams) => approve(p));
    this.lc.onNotification(Method.output, (p: OutputParams) => {
      this.runs.output(p);
    });
    this.lc.onNotification(Method.violation, (v: Violation) => opts.onViolation?.(v));
  }

  start(): Promise<void> {
    return this.lc.start();
  }

  stop(): Promise<void> {
    return this.lc.stop();
  }

  restart(): Promise<void> {
    return this.lc.restart();
  }

  get running(): boolean {
    return this.lc.isRunning();
  }

  // run asks the server to run one command and streams its output to sink.
  // Cancelling the token sends $/cancelRequest, which kills the run.
  async run(params: RunParams, sink: Sink, token?: vscode.CancellationToken): Promise<RunResult> {
    if (vscode.workspace.isTrusted === false) {
      // Restricted Mode: a folder the user has not trusted runs nothing.
      throw new Error('this workspace is in Restricted Mode: cordon runs nothing until you trust it (Manage Workspace Trust)');
    }
    const reg = this.runs.begin(sink);
    let result: RunResult | undefined;
    try {
      // An undefined token must not be passed: vscode-jsonrpc would send
      // [params, null] by position.
      result = token
        ? await this.lc.sendRequest<RunResult>(Method.run, params, token)
        : await this.lc.sendRequest<RunResult>(Method.run, params);
      return result;
    } finally {
      reg.end(result?.runId);
    }
  }

  status(): Promise<StatusResult> {
    return this.lc.sendRequest<StatusResult>(Method.status);
  }

  // command runs one of the server's workspace/executeCommand commands.
  command<T = unknown>(name: string, args: Record<string, unknown>): Promise<T> {
    return this.lc.sendRequest<T>('workspace/executeCommand', { command: name, arguments: [args] });
  }
}
