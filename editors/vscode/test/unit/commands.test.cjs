'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vscode = require('../stub/register.cjs');
const { openPolicy, registerCommands, runInChannel, menu, trust, Command } = require('../../out/commands.js');
const { RunHistory } = require('../../out/history.js');

// A stand-in for `cordon init -w DIR`: it records its arguments and writes
// a marker starter without overwriting, as the real one does.
function fakeCordon(t) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cordon-bin-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  const bin = path.join(d, 'cordon');
  fs.writeFileSync(bin, `#!/bin/sh\necho "$@" > "${d}/args"\n[ -e "$3/.sandbox.toml" ] && { echo "exists; not overwritten" >&2; exit 1; }\nprintf '# from cordon init\\n' > "$3/.sandbox.toml"\n`, { mode: 0o755 });
  return { bin, args: () => fs.readFileSync(path.join(d, 'args'), 'utf8').trim() };
}

function folder(t) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cordon-ws-'));
  t.after(() => { fs.rmSync(d, { recursive: true, force: true }); vscode.workspace.workspaceFolders = undefined; });
  vscode.workspace.workspaceFolders = [{ uri: vscode.Uri.file(d), name: 'ws', index: 0 }];
  return d;
}

test('Open Policy has cordon init write the starter when missing and opens it', async (t) => {
  const d = folder(t);
  const c = fakeCordon(t);
  const uri = await openPolicy({ binary: () => c.bin });
  assert.equal(uri.fsPath, path.join(d, '.sandbox.toml'));
  assert.equal(c.args(), `init -w ${d}`);
  assert.equal(fs.readFileSync(uri.fsPath, 'utf8'), '# from cordon init\n');
  assert.equal(vscode.window.shown.at(-1).uri.fsPath, uri.fsPath);
});

test('Open Policy never overwrites an existing policy', async (t) => {
  const d = folder(t);
  const c = fakeCordon(t);
  const mine = '[network]\nallow = ["github.com"]\n';
  fs.writeFileSync(path.join(d, '.sandbox.toml'), mine);
  const uri = await openPolicy({ binary: () => c.bin });
  assert.equal(uri.fsPath, path.join(d, '.sandbox.toml'));
  assert.equal(fs.readFileSync(path.join(d, '.sandbox.toml'), 'utf8'), mine);
});

test('Open Policy without a folder or a binary says so', async (t) => {
  vscode.workspace.workspaceFolders = undefined;
  vscode.window.messages.length = 0;
  assert.equal(await openPolicy({ binary: () => '/bin/true' }), undefined);
  assert.match(vscode.window.messages[0][1], /open a folder/);
  folder(t);
  assert.equal(await openPolicy({ binary: () => undefined }), undefined);
  assert.match(vscode.window.messages[1][1], /binary/);
});

function host(run, extra = {}) {
  return {
    client: () => ({ run, status: async () => ({}), command: async () => ({}), ...extra }),
    history: new RunHistory(3),
    restart: async () => undefined,
    refreshStatus: async () => 'active',
    runs: vscode.window.createOutputChannel('runs'),
    info: vscode.window.createOutputChannel('info'),
  };
}

test('runInChannel shows the command, its output, violations and exit code', async () => {
  const h = host(async (params, sink) => {
    assert.equal(params.command, 'echo hi; cat /etc/shadow');
    sink.output('stdout', 'hi\n');
    return { runId: 'r', exitCode: 1, violations: [{ runId: 'r', command: 'x', kind: 'read', target: '/etc/shadow', time: '' }] };
  });
  const res = await runInChannel(h, 'echo hi; cat /etc/shadow', '/w');
  assert.equal(res.exitCode, 1);
  assert.equal(h.runs.text, '$ echo hi; cat /etc/shadow\nhi\ncordon: blocked read /etc/shadow (default)\n[cordon] exit code 1\n');
  const r = h.history.runs[0];
  assert.equal(r.command, 'echo hi; cat /etc/shadow');
  assert.equal(r.exitCode, 1);
  assert.equal(r.violations.length, 1);
});

test('a cancelled run says cancelled in the output and the history', async (t) => {
  t.mock.method(vscode.window, 'withProgress', async (_o, task) => {
    const cts = new vscode.CancellationTokenSource();
    const p = task({ report() {} }, cts.token);
    cts.cancel();
    return p;
  });
  const h = host(async (_p, _s, token) => new Promise((_res, rej) => token.onCancellationRequested(() => rej(new Error('Canceled')))));
  vscode.window.messages.length = 0;
  assert.equal(await runInChannel(h, 'sleep 30'), undefined);
  assert.match(h.runs.text, /\[cordon\] cancelled/);
  assert.equal(h.history.runs[0].cancelled, true);
  assert.equal(vscode.window.messages.length, 0, 'a cancel is not an error');
});

test('the status menu offers what the state allows, and runs the pick', async (t) => {
  let items;
  t.mock.method(vscode.window, 'showQuickPick', async (it) => { items = it; return it.find((i) => /Explain/.test(i.label)); });
  const ran = [];
  const ds = [vscode.commands.registerCommand('cordon.explain', () => ran.push('explain'))];
  t.after(() => ds.forEach((d) => d.dispose()));
  await menu(host(async () => ({})), 'untrusted');
  const labels = items.map((i) => i.label.replace(/^\$\([^)]*\) /, ''));
  for (const l of ['Show Status', 'Explain Policy', 'Open Policy', 'Trust Policy…', 'Show Audit Log', 'Restart Server', 'Show Server Log']) {
    assert.ok(labels.includes(l), `${l} in ${labels}`);
  }
  assert.deepEqual(ran, ['explain']);
  await menu(host(async () => ({})), 'active');
  assert.ok(items.some((i) => /Untrust/.test(i.label)) && !items.some((i) => /Trust Policy/.test(i.label)));
});

test('Trust shows what widens, with its own buttons, and trusts the hash shown', async (t) => {
  const calls = [];
  const st = { root: '/w', policyFile: '/w/.sandbox.toml', policyHash: 'h1', trusted: false, untrusted: [{ kind: 'net', target: 'pkg.example:443', line: 3 }] };
  const h = host(async () => ({}), { status: async () => st, command: async (name, args) => { calls.push([name, args]); return {}; } });
  let seen;
  t.mock.method(vscode.window, 'showWarningMessage', async (msg, opts, ...items) => { seen = { msg, opts, items }; return items[0]; });
  assert.equal(await trust(h), true);
  assert.deepEqual(seen.items.map((i) => i.title), ['Trust this file', 'Not now']);
  assert.equal(seen.items[1].isCloseAffordance, true);
  assert.match(seen.opts.detail, /net pkg\.example:443 \(line 3\)/);
  assert.deepEqual(calls, [['cordon.server.trust', { root: '/w', hash: 'h1' }]]);
  // Not now trusts nothing.
  t.mock.method(vscode.window, 'showWarningMessage', async () => undefined);
  calls.length = 0;
  assert.equal(await trust(h), false);
  assert.equal(calls.length, 0);
});

test('a failing run is reported, not thrown', async () => {
  const h = host(async () => { throw new Error('sandbox could not be set up: bubblewrap missing'); });
  vscode.window.messages.length = 0;
  assert.equal(await runInChannel(h, 'true'), undefined);
  assert.match(h.runs.text, /run failed: sandbox could not be set up/);
  assert.equal(vscode.window.messages[0][0], 'error');
});

test('commands register under ids distinct from the server\'s', async (t) => {
  const ds = registerCommands(host(async () => ({})));
  t.after(() => ds.forEach((d) => d.dispose()));
  const ids = [...vscode.commands.registry.keys()];
  assert.deepEqual(ids.sort(), Object.values(Command).sort());
  for (const id of ids) assert.ok(!id.startsWith('cordon.server.'), id);
  const pkg = require('../../package.json');
  assert.deepEqual(pkg.contributes.commands.map((c) => c.command).sort(), Object.values(Command).sort());
});

test('Run Command: cancelled input box runs nothing', async (t) => {
  let ran = false;
  const ds = registerCommands(host(async () => { ran = true; return {}; }));
  t.after(() => ds.forEach((d) => d.dispose()));
  vscode.window.showInputBox = async () => undefined;
  assert.equal(await vscode.commands.executeCommand(Command.runCommand), undefined);
  vscode.window.showInputBox = async () => '   ';
  assert.equal(await vscode.commands.executeCommand(Command.runCommand), undefined);
  assert.equal(ran, false);
});

test('Run Selection runs the selected text, or the current line', async (t) => {
  const ran = [];
  const ds = registerCommands(host(async (params) => { ran.push(params.command); return { runId: 'r', exitCode: 0, violations: [] }; }));
  t.after(() => { ds.forEach((d) => d.dispose()); vscode.window.activeTextEditor = undefined; });
  const lines = ['make test', 'echo two'];
  const doc = {
    uri: vscode.Uri.file('/w/Makefile'),
    getText: (r) => (r ? 'echo sel' : lines.join('\n')),
    lineAt: (n) => ({ text: lines[n] }),
  };
  const p = (l, c) => new vscode.Position(l, c);
  vscode.window.activeTextEditor = { document: doc, selection: new vscode.Selection(p(0, 0), p(0, 4)) };
  await vscode.commands.executeCommand(Command.runSelection);
  vscode.window.activeTextEditor = { document: doc, selection: new vscode.Selection(p(1, 2), p(1, 2)) };
  await vscode.commands.executeCommand(Command.runSelection);
  assert.deepEqual(ran, ['echo sel', 'echo two']);
  vscode.window.activeTextEditor = undefined;
  assert.equal(await vscode.commands.executeCommand(Command.runSelection), undefined);
  assert.equal(ran.length, 2);
});

test('revoke: the hosts answered Always allow, the pick sent to the server', async (t) => {
  const { alwaysAllowed, revokeAllow } = require('../../out/commands.js');
  const { parseAudit } = require('../../out/docs.js');
  const log = [
    { host: 'a.test', port: 443, decision: 'allow', asked: true, answer: 'allow-always' },
    { host: 'b.test', port: 80, decision: 'allow', asked: true, answer: 'allow-once' },
    { host: '::1', port: 8080, decision: 'allow', asked: true, answer: 'allow-always' },
    { host: 'a.test', port: 443, decision: 'allow', reason: 'rule' },
  ].map((e) => JSON.stringify({ time: 't', ...e })).join('\n');
  assert.deepEqual(alwaysAllowed(parseAudit(log)), ['[::1]:8080', 'a.test:443']);
  const calls = [];
  const h = host(async () => ({}), { command: async (n, a) => { calls.push([n, a.host]); return {}; } });
  assert.equal(await revokeAllow(h, 'a.test:443'), true);
  assert.deepEqual(calls, [['cordon.server.revoke', 'a.test:443']]);
  void t;
});
