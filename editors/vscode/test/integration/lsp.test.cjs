'use strict';
// Drives the real vscode-languageclient (node build) against the real
// `cordon lsp` under Node, with the vscode stand-in: initialize on a temp
// workspace, run a command, answer an approval, receive diagnostics.
// CORDON must name the binary (make -C editors test CORDON=...).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vscode = require('../stub/register.cjs');
const { CordonClient } = require('../../out/client.js');
const { ALLOW_ONCE } = require('../../out/approvals.js');

const CORDON = process.env.CORDON;

function setup(t) {
  assert.ok(CORDON, 'set CORDON to the cordon binary (make -C editors test CORDON=/path/to/cordon)');
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cordon-vsc-')));
  const ws = path.join(tmp, 'ws');
  fs.mkdirSync(ws);
  // cordon's state and the user defaults go to the temp dir, not the user's.
  const saved = { XDG_STATE_HOME: process.env.XDG_STATE_HOME, XDG_CONFIG_HOME: process.env.XDG_CONFIG_HOME };
  process.env.XDG_STATE_HOME = path.join(tmp, 'state');
  process.env.XDG_CONFIG_HOME = path.join(tmp, 'config');
  fs.writeFileSync(path.join(ws, '.sandbox.toml'), '[network]\nunknown = "ask"\ndeny = ["blocked.example"]\n');
  vscode.workspace.workspaceFolders = [{ uri: vscode.Uri.file(ws), name: 'ws', index: 0 }];
  t.after(() => {
    vscode.workspace.workspaceFolders = undefined;
    for (const [k, v] of Object.entries(saved)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  return { tmp, ws, policy: path.join(ws, '.sandbox.toml') };
}

async function waitFor(what, fn, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('run, approve, diagnostics, status, cancel through the real client and server', { timeout: 90000 }, async (t) => {
  const { ws, policy } = setup(t);
  const asked = [];
  t.mock.method(vscode.window, 'showWarningMessage', async (msg, opts, ...items) => {
    asked.push({ msg, opts, items });
    return ALLOW_ONCE;
  });
  const serverLog = vscode.window.createOutputChannel('cordon: server');
  const client = new CordonClient({ binary: CORDON, cwd: ws, serverLog });
  await client.start();
  t.after(() => client.stop().catch(() => undefined));
  assert.ok(client.running);

  const status = await client.status();
  assert.equal(status.root, ws);
  assert.equal(status.policyFile, policy);

  let out = '', err = '';
  const res = await client.run(
    {
      command:
        "echo out-line; printf 'part'; echo 'ial'; echo err-line >&2; " +
        'curl -s -o /dev/null -m 5 http://approve-me.example/; curl -s -o /dev/null -m 5 http://blocked.example/; exit 7',
      cwd: ws,
    },
    { output: (s, d) => { if (s === 'stderr') err += d; else out += d; } },
  );
  assert.equal(res.exitCode, 7);
  assert.equal(typeof res.runId, 'string');
  assert.equal(out, 'out-line\npartial\n');
  assert.equal(err, 'err-line\n');

  // One modal question, for the unknown host; the ruled-out one never asks.
  assert.equal(asked.length, 1, JSON.stringify(asked));
  assert.match(asked[0].msg, /approve-me\.example:80/);
  assert.equal(asked[0].opts.modal, true);
  const blocked = res.violations.filter((v) => v.kind === 'net').map((v) => v.target);
  assert.ok(blocked.includes('blocked.example:80'), JSON.stringify(res.violations));
  const audit = fs.readFileSync(path.join(process.env.XDG_STATE_HOME, 'cordon', 'audit.log'), 'utf8');
  assert.ok(
    audit.split('\n').filter(Boolean).map((l) => JSON.parse(l)).some((e) => e.host === 'approve-me.example' && e.asked && e.answer === 'allow-once'),
    `the answer did not reach the server:\n${audit}`,
  );

  // The violation shows on the deny rule's line of .sandbox.toml.
  const diag = await waitFor('a net-denied diagnostic on .sandbox.toml', () =>
    vscode.languages.getDiagnostics(vscode.Uri.file(policy)).find(
      (d) => d.source === 'cordon' && String(d.code?.value ?? d.code) === 'net-denied' && d.message.includes('blocked.example:80'),
    ),
  );
  assert.equal(diag.range.start.line, 2);

  // Cancelling the request kills the run promptly.
  const cts = new vscode.CancellationTokenSource();
  const started = Date.now();
  const p = client.run({ command: 'echo started; sleep 60', cwd: ws }, { output: () => cts.cancel() }, cts.token);
  await assert.rejects(p);
  assert.ok(Date.now() - started < 15000, `cancel took ${Date.now() - started} ms`);
});

test('the extension activates, registers its commands and shows status', { timeout: 60000 }, async (t) => {
  const { ws } = setup(t);
  vscode.workspace.config['cordon.path'] = CORDON;
  t.after(() => { delete vscode.workspace.config['cordon.path']; });
  const ext = require('../../out/extension.js');
  const subs = [];
  await ext.activate({ subscriptions: subs });
  t.after(() => subs.forEach((d) => d.dispose()));
  for (const id of ['cordon.runCommand', 'cordon.showStatus', 'cordon.openPolicy', 'cordon.restartServer']) {
    assert.ok(vscode.commands.registry.has(id), id);
  }
  // Run Command drives a real run end to end through the input box.
  t.mock.method(vscode.window, 'showInputBox', async () => 'echo from-palette; exit 3');
  const res = await vscode.commands.executeCommand('cordon.runCommand');
  assert.equal(res.exitCode, 3);
  await vscode.commands.executeCommand('cordon.showStatus');
  const bar = vscode.window.statusBarItems.at(-1);
  assert.equal(bar.command, 'cordon.menu', 'the status item opens the menu');
  await waitFor('status bar: active', () => bar.text === '$(shield) cordon');

  // A second run: the history view lists both, newest first.
  t.mock.method(vscode.window, 'showInputBox', async () => 'echo second');
  await vscode.commands.executeCommand('cordon.runCommand');
  const view = vscode.window.treeProviders.get('cordon.runs');
  const runs = view.getChildren().map((n) => [view.getTreeItem(n).label, view.getTreeItem(n).description]);
  assert.equal(runs.length, 2);
  assert.equal(runs[0][0], 'echo second');
  assert.match(runs[1][1], /^exit 3 · \d+ ms$/);

  // Explain: a read-only virtual document of the live policy.
  await vscode.commands.executeCommand('cordon.explain');
  const ex = vscode.window.shown.at(-1);
  assert.equal(ex.uri.scheme, 'cordon-explain');
  assert.match(ex.getText(), /deny +blocked\.example/);

  // A broken policy turns the status bar to invalid (the last good policy
  // stays in force); fixing it turns it back.
  const policy = path.join(ws, '.sandbox.toml');
  const good = fs.readFileSync(policy, 'utf8');
  fs.writeFileSync(policy, good + 'bogus_key = 1\n');
  await waitFor('status bar: invalid', () => /invalid/.test(bar.text));
  fs.writeFileSync(policy, good);
  await waitFor('status bar: active again', () => bar.text === '$(shield) cordon');

  // A policy that widens the defaults (an allowed host) is untrusted until
  // approved; nothing asks while the file changes.
  const questions = [];
  t.mock.method(vscode.window, 'showWarningMessage', async (msg, opts, ...items) => {
    questions.push({ msg, opts, items });
    return items.find((i) => i.title === 'Trust this file');
  });
  fs.writeFileSync(policy, '[network]\nallow = ["github.com"]\n');
  await waitFor('status bar: untrusted', () => /untrusted/.test(bar.text), 15000);
  assert.equal(questions.length, 0, 'the trust question popped up while the file changed');
  // Trust: what widens is shown, with the question's own buttons.
  assert.equal(await vscode.commands.executeCommand('cordon.trust'), true);
  assert.deepEqual(questions[0].items.map((i) => i.title), ['Trust this file', 'Not now']);
  assert.match(questions[0].opts.detail, /net github\.com \(line 2\)/);
  await waitFor('status bar: active after trust', () => bar.text === '$(shield) cordon');
  assert.equal(await vscode.commands.executeCommand('cordon.untrust'), true);
  await waitFor('status bar: untrusted after untrust', () => /untrusted/.test(bar.text));
});

test('a folder without a policy: "cordon: defaults", and the status says so', { timeout: 60000 }, async (t) => {
  const { ws, policy } = setup(t);
  fs.rmSync(policy);
  vscode.workspace.config['cordon.path'] = CORDON;
  t.after(() => { delete vscode.workspace.config['cordon.path']; });
  const ext = require('../../out/extension.js');
  const subs = [];
  await ext.activate({ subscriptions: subs });
  t.after(() => subs.forEach((d) => d.dispose()));
  const bar = vscode.window.statusBarItems.at(-1);
  await waitFor('status bar: defaults', () => bar.text === '$(shield) cordon: defaults');
  await vscode.commands.executeCommand('cordon.showStatus');
  void ws;
});

test('a missing binary gives a clear error with how to install', async (t) => {
  setup(t);
  vscode.workspace.config['cordon.path'] = '/nonexistent/cordon';
  t.after(() => { delete vscode.workspace.config['cordon.path']; });
  vscode.window.messages.length = 0;
  const ext = require('../../out/extension.js');
  const subs = [];
  await ext.activate({ subscriptions: subs });
  t.after(() => subs.forEach((d) => d.dispose()));
  const e = vscode.window.messages.find(([k]) => k === 'error');
  assert.ok(e, 'no error shown');
  assert.match(e[1], /not found/);
  assert.match(e[1], /go install/);
});
