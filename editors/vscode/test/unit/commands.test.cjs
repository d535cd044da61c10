'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vscode = require('../stub/register.cjs');
const { openPolicy, registerCommands, runInChannel, Command } = require('../../out/commands.js');
const { STARTER } = require('../../out/policy.js');

function folder(t) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cordon-ws-'));
  t.after(() => { fs.rmSync(d, { recursive: true, force: true }); vscode.workspace.workspaceFolders = undefined; });
  vscode.workspace.workspaceFolders = [{ uri: vscode.Uri.file(d), name: 'ws', index: 0 }];
  return d;
}

test('Open Policy writes the starter when missing and opens it', async (t) => {
  const d = folder(t);
  const uri = await openPolicy();
  assert.equal(uri.fsPath, path.join(d, '.sandbox.toml'));
  assert.equal(fs.readFileSync(uri.fsPath, 'utf8'), STARTER);
  assert.equal(vscode.window.shown.at(-1).uri.fsPath, uri.fsPath);
});

test('Open Policy never overwrites an existing policy', async (t) => {
  const d = folder(t);
  const mine = '[network]\nallow = ["github.com"]\n';
  fs.writeFileSync(path.join(d, '.sandbox.toml'), mine);
  await openPolicy();
  assert.equal(fs.readFileSync(path.join(d, '.sandbox.toml'), 'utf8'), mine);
});

test('Open Policy without a folder says so', async () => {
  vscode.workspace.workspaceFolders = undefined;
  vscode.window.messages.length = 0;
  assert.equal(await openPolicy(), undefined);
  assert.match(vscode.window.messages[0][1], /open a folder/);
});

function host(run) {
  return {
    client: () => ({ run, status: async () => ({}) }),
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
