'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const vscode = require('../stub/register.cjs');
const { runParams, crlf, SandboxTerminal, CordonTaskProvider } = require('../../out/tasks.js');

test('runParams: argv with args, a shell string without, cwd under the folder', () => {
  assert.deepEqual(runParams({ type: 'cordon', command: 'go', args: ['test', './...'] }, '/w'), {
    command: ['go', 'test', './...'], cwd: '/w', label: 'go test ./...',
  });
  assert.deepEqual(runParams({ type: 'cordon', command: 'npm test && echo ok', cwd: 'web' }, '/w'), {
    command: 'npm test && echo ok', cwd: '/w/web', label: 'npm test && echo ok',
  });
  assert.equal(runParams({ type: 'cordon', command: 'x', cwd: '/abs' }, '/w').cwd, '/abs');
  assert.equal(runParams({ type: 'cordon', command: 'x' }).cwd, undefined);
  assert.throws(() => runParams({ type: 'cordon', command: '' }), /non-empty/);
  assert.throws(() => runParams({ type: 'cordon', command: 'x', args: [1] }), /array of strings/);
  assert.throws(() => runParams({ type: 'cordon', command: 'x', args: 'y' }), /array of strings/);
});

test('crlf', () => {
  assert.equal(crlf('a\nb\r\nc'), 'a\r\nb\r\nc');
});

function fakeClient(behaviour) {
  return { run: behaviour };
}

function collect(term) {
  const out = { text: '', code: undefined };
  const done = new Promise((resolve) => {
    term.onDidWrite((s) => { out.text += s; });
    term.onDidClose((c) => { out.code = c; resolve(out); });
  });
  return done;
}

test('the pseudoterminal streams output and closes with the exit code', async () => {
  let got;
  const client = fakeClient(async (params, sink) => {
    got = params;
    sink.output('stdout', 'hello\n');
    sink.output('stderr', 'oops\n');
    return { runId: 'r1', exitCode: 3, violations: [{ runId: 'r1', command: 'x', kind: 'net', target: 'evil.com:443', time: '' }] };
  });
  const term = new SandboxTerminal(() => client, { command: 'x', label: 'x' });
  const done = collect(term);
  term.open();
  const out = await done;
  assert.equal(got.command, 'x');
  assert.equal(out.code, 3);
  assert.match(out.text, /hello\r\noops\r\n/);
  assert.match(out.text, /blocked net evil\.com:443 \(default\)/);
  assert.match(out.text, /exit code 3/);
});

test('closing the terminal cancels the run; a failed run closes with 125', async () => {
  let token;
  const client = fakeClient((_p, _s, tok) => new Promise((_resolve, reject) => {
    token = tok;
    tok.onCancellationRequested(() => reject(new Error('cancelled')));
  }));
  const term = new SandboxTerminal(() => client, { command: 'sleep 100' });
  const done = collect(term);
  term.open();
  await new Promise((r) => setImmediate(r));
  assert.equal(token.isCancellationRequested, false);
  term.close();
  assert.equal(token.isCancellationRequested, true);
  const out = await done;
  assert.equal(out.code, 125);
  assert.match(out.text, /cancelled/);

  const dead = new SandboxTerminal(() => { throw new Error('the cordon server is not running'); }, { command: 'x' });
  const d2 = collect(dead);
  dead.open();
  assert.equal((await d2).code, 125);
});

test('the task provider resolves cordon tasks only', async () => {
  vscode.workspace.workspaceFolders = [{ uri: vscode.Uri.file('/w'), name: 'w', index: 0 }];
  const p = new CordonTaskProvider(() => fakeClient(async () => ({ runId: 'r', exitCode: 0, violations: [] })));
  assert.deepEqual(p.provideTasks(), []);
  assert.equal(p.resolveTask(new vscode.Task({ type: 'shell', command: 'x' }, 2, 'n', 'shell')), undefined);
  const t = p.resolveTask(new vscode.Task({ type: 'cordon', command: 'make', args: ['test'] }, vscode.workspace.workspaceFolders[0], 'mk', 'cordon'));
  assert.equal(t.source, 'cordon');
  const term = await t.execution.callback({});
  assert.ok(term instanceof SandboxTerminal);
  // A bad definition is reported in the terminal, exit 125, nothing run.
  let ran = false;
  const bad = new CordonTaskProvider(() => fakeClient(async () => { ran = true; return {}; }));
  const bt = bad.resolveTask(new vscode.Task({ type: 'cordon', command: 'x', args: 'not-an-array' }, vscode.workspace.workspaceFolders[0], 'bad', 'cordon'));
  const bterm = await bt.execution.callback({});
  const bdone = collect(bterm);
  bterm.open();
  const bout = await bdone;
  assert.equal(bout.code, 125);
  assert.match(bout.text, /array of strings/);
  assert.equal(ran, false);
  vscode.workspace.workspaceFolders = undefined;
});

test('detected tasks: package.json scripts, Makefile targets, go test', (t) => {
  const { detectTasks, makeTargets, shellQuote } = require('../../out/tasks.js');
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cordon-tasks-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  fs.writeFileSync(path.join(d, 'package.json'), JSON.stringify({ scripts: { test: 'node --test', "it's": 'x' } }));
  fs.writeFileSync(path.join(d, 'Makefile'), '.PHONY: all test\nCC := gcc\nall: build\nbuild test: dep\n%.o: %.c\n\techo $@\nx ::= y\n');
  fs.writeFileSync(path.join(d, 'go.mod'), 'module m\n');
  assert.deepEqual(makeTargets(fs.readFileSync(path.join(d, 'Makefile'), 'utf8')), ['all', 'build', 'test']);
  assert.deepEqual(detectTasks(d), [
    { name: 'npm: test', command: 'npm run test' },
    { name: "npm: it's", command: "npm run 'it'\\''s'" },
    { name: 'make: all', command: 'make all' },
    { name: 'make: build', command: 'make build' },
    { name: 'make: test', command: 'make test' },
    { name: 'go: test ./...', command: 'go test ./...' },
  ]);
  assert.equal(shellQuote('a b'), "'a b'");
  fs.writeFileSync(path.join(d, 'package.json'), '{not json');
  assert.ok(detectTasks(d).every((x) => !x.name.startsWith('npm')));
});
