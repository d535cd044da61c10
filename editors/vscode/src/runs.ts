import type { OutputParams, Violation } from './protocol';

// A Sink receives the output of one run as it streams.
export interface Sink {
  output(stream: 'stdout' | 'stderr', data: string): void;
}

interface Pending {
  sink: Sink;
  runId?: string;
}

// RunRegistry routes sandbox/output notifications to the run that asked for
// them. The server names a run only in its final result, so output for a
// runId not seen before goes to the oldest run that has no id yet: the
// server starts runs in the order the requests arrive.
export class RunRegistry {
  private readonly pending: Pending[] = [];
  private readonly byId = new Map<string, Pending>();

  // begin registers a run about to be requested; call the returned end
  // once its result (or error) arrived.
  begin(sink: Sink): { end: (runId?: string) => void } {
    const p: Pending = { sink };
    this.pending.push(p);
    return {
      end: (runId?: string) => {
        const i = this.pending.indexOf(p);
        if (i >= 0) this.pending.splice(i, 1);
        const id = p.runId ?? runId;
        if (id !== undefined) this.byId.delete(id);
      },
    };
  }

  // output delivers one sandbox/output notification; it reports whether a
  // run took it.
  output(params: OutputParams): boolean {
    if (!params || typeof params.runId !== 'string' || typeof params.data !== 'string') return false;
    let p = this.byId.get(params.runId);
    if (!p) {
      p = this.pending.find((q) => q.runId === undefined);
      if (!p) return false;
      p.runId = params.runId;
      this.byId.set(params.runId, p);
    }
    p.sink.output(params.stream === 'stderr' ? 'stderr' : 'stdout', params.data);
    return true;
  }

  get size(): number {
    return this.pending.length;
  }
}

// describeViolation renders one violation as the CLI does on stderr.
export function describeViolation(v: Violation): string {
  const rule = v.rule ? `${v.rule.file}:${v.rule.line}` : 'default';
  return `cordon: blocked ${v.kind} ${v.target} (${rule})`;
}

// describeExit renders how a run ended.
export function describeExit(exitCode: number, signal?: string | number): string {
  if (signal !== undefined && signal !== null && signal !== '' && signal !== 0) {
    return `[cordon] killed by signal ${signal} (exit ${exitCode})`;
  }
  return `[cordon] exit code ${exitCode}`;
}
