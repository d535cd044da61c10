// The language features `cordon lsp` gives .sandbox.toml, driven through
// vscode-jsonrpc (the transport VS Code's client uses) against the real
// binary: live validation while typing, completion, hover, symbols; the
// honest status of a folder without a policy; the server log and trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import rpc from 'vscode-jsonrpc/node.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cordon = process.env.CORDON || path.resolve(here, '../../bin/cordon');
const uri = (p) => pathToFileURL(p).href;

function start(t, ws, base) {
  const env = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: path.join(base, 'home'),
    XDG_CONFIG_HOME: path.join(base, 'config'),
    XDG_STATE_HOME: path.join(base, 'state'),
  };
  fs.mkdirSync(env.HOME, { recursive: true });
  const proc = spawn(cordon, ['lsp'], { env, cwd: ws, stdio: ['pipe', 'pipe', 'pipe'] });
  const st = { stderr: '', diags: new Map(), waiters: [] };
  proc.stderr.on('data', (d) => { st.stderr += d; });
  const conn = rpc.createMessageConnection(new rpc.StreamMessageReader(proc.stdout), new rpc.StreamMessageWriter(proc.stdin));
  conn.onNotification('textDocument/publishDiagnostics', (p) => {
    st.diags.set(p.uri, p.diagnostics);
    for (const w of st.waiters.splice(0)) w();
  });
  conn.onRequest('sandbox/approve', () => ({ decision: 'deny' }));
  conn.listen();
  t.after(() => { if (proc.exitCode === null) proc.kill('SIGKILL'); conn.dispose(); });
  st.until = (what, pred, ms = 10000) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify([...st.diags])}\n${st.stderr}`)), ms);
    const check = () => { if (pred()) { clearTimeout(timer); resolve(); } else st.waiters.push(check); };
    check();
  });
  return { conn, st, proc };
}

function workspace(withPolicy) {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cordon-e2e-toml-')));
  const ws = path.join(base, 'ws');
  fs.mkdirSync(ws);
  const policy = path.join(ws, '.sandbox.toml');
  if (withPolicy) fs.writeFileSync(policy, withPolicy);
  return { base, ws, policy };
}

async function init(conn, ws, trace = 'off') {
  const res = await conn.sendRequest('initialize', {
    processId: process.pid,
    clientInfo: { name: 'e2e' },
    rootUri: uri(ws),
    workspaceFolders: [{ uri: uri(ws), name: 'ws' }],
    capabilities: { textDocument: { completion: { completionItem: { snippetSupport: true } } } },
    initializationOptions: { approvals: true },
    trace,
  });
  await conn.sendNotification('initialized', {});
  return res;
}

test('.sandbox.toml: live validation, completion, hover, symbols', { timeout: 60000 }, async (t) => {
  const text = '[network]\nunknown = "ask"\n';
  const w = workspace(text);
  const { conn, st } = start(t, w.ws, w.base);
  const res = await init(conn, w.ws);
  const caps = res.capabilities;
  assert.equal(caps.hoverProvider, true);
  assert.equal(caps.documentSymbolProvider, true);
  assert.ok(caps.completionProvider.triggerCharacters.includes('['));
  assert.equal(caps.textDocumentSync.change, 2, 'incremental sync');

  const doc = { uri: uri(w.policy), languageId: 'toml', version: 1, text };
  await conn.sendNotification('textDocument/didOpen', { textDocument: doc });

  // Typing an invalid value: a diagnostic before any save.
  await conn.sendNotification('textDocument/didChange', {
    textDocument: { uri: doc.uri, version: 2 },
    contentChanges: [{ range: { start: { line: 1, character: 11 }, end: { line: 1, character: 14 } }, text: 'maybe' }],
  });
  await st.until('a live policy-error', () => (st.diags.get(doc.uri) || []).some((d) => d.code === 'policy-error' && d.range.start.line === 1));
  assert.equal(fs.readFileSync(w.policy, 'utf8'), text, 'nothing written to disk');
  // Typing it right again clears it.
  await conn.sendNotification('textDocument/didChange', {
    textDocument: { uri: doc.uri, version: 3 },
    contentChanges: [{ range: { start: { line: 1, character: 11 }, end: { line: 1, character: 16 } }, text: 'deny' }],
  });
  await st.until('the live diagnostic cleared', () => (st.diags.get(doc.uri) || []).length === 0);

  // A new line in [network]: its keys not yet given, then the tables.
  await conn.sendNotification('textDocument/didChange', {
    textDocument: { uri: doc.uri, version: 4 },
    contentChanges: [{ text: '[network]\nunknown = "deny"\n\n' }],
  });
  const keys = await conn.sendRequest('textDocument/completion', { textDocument: { uri: doc.uri }, position: { line: 2, character: 0 } });
  const labels = keys.map((i) => i.label);
  for (const k of ['allow', 'deny', 'allow_unix_sockets', '[filesystem]', '[limits]']) assert.ok(labels.includes(k), `${k} offered: ${labels}`);
  assert.ok(!labels.includes('unknown'), 'a key already given is not offered again');
  const allow = keys.find((i) => i.label === 'allow');
  assert.equal(allow.insertTextFormat, 2);
  assert.equal(allow.textEdit.newText, 'allow = ["$1"]');
  assert.match(allow.documentation.value, /proxy/);

  // After "unknown = ": exactly the enumerated values.
  await conn.sendNotification('textDocument/didChange', {
    textDocument: { uri: doc.uri, version: 5 },
    contentChanges: [{ text: '[network]\nunknown = \n' }],
  });
  const vals = await conn.sendRequest('textDocument/completion', { textDocument: { uri: doc.uri }, position: { line: 1, character: 10 } });
  assert.deepEqual(vals.map((i) => i.textEdit.newText), ['"ask"', '"deny"']);

  // Hover: the key's documentation, from the same table as the schema.
  const hov = await conn.sendRequest('textDocument/hover', { textDocument: { uri: doc.uri }, position: { line: 1, character: 3 } });
  assert.match(hov.contents.value, /\*\*network\.unknown\*\*/);
  const schema = JSON.parse(fs.readFileSync(path.resolve(here, '../../editors/vscode/schemas/sandbox.schema.json'), 'utf8'));
  assert.ok(hov.contents.value.includes(schema.properties.network.properties.unknown.description), 'hover and schema say the same');

  // Symbols: tables with their keys.
  await conn.sendNotification('textDocument/didChange', {
    textDocument: { uri: doc.uri, version: 6 },
    contentChanges: [{ text: '[filesystem]\ndeny_write = [\n  ".env",\n]\n[network]\nunknown = "ask"\n' }],
  });
  const syms = await conn.sendRequest('textDocument/documentSymbol', { textDocument: { uri: doc.uri } });
  assert.deepEqual(syms.map((s) => [s.name, s.children.map((c) => c.name)]), [['filesystem', ['deny_write']], ['network', ['unknown']]]);
  assert.equal(syms[0].children[0].range.end.line, 3, 'a multi-line array spans its lines');

  // Closing unsaved: the file on disk (valid) speaks again.
  await conn.sendNotification('textDocument/didClose', { textDocument: { uri: doc.uri } });
  await st.until('the disk diagnostics back', () => (st.diags.get(doc.uri) || []).length === 0);

  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
});

test('sandbox/status without a policy file; the server log and trace', { timeout: 60000 }, async (t) => {
  const w = workspace(null);
  const { conn, st } = start(t, w.ws, w.base);
  await init(conn, w.ws);
  const s = await conn.sendRequest('sandbox/status');
  assert.equal(s.policyFile, null, 'policyFile is null without a file');
  assert.equal(s.trusted, false, 'nothing is trusted without a file');
  assert.equal(s.root, w.ws);
  // The server says what it does at info by default...
  await new Promise((r) => setTimeout(r, 200));
  assert.match(st.stderr, /level=INFO msg=initialize client=e2e/);
  assert.match(st.stderr, /level=INFO msg="policy loaded"/);
  assert.doesNotMatch(st.stderr, /level=DEBUG/);
  // ...and at debug once the client's trace is verbose.
  await conn.sendNotification('$/setTrace', { value: 'verbose' });
  fs.writeFileSync(w.policy, '[network]\nunknown = "ask"\n');
  await conn.sendNotification('textDocument/didOpen', { textDocument: { uri: uri(w.policy), languageId: 'toml', version: 1, text: '[network]\nunknown = 1\n' } });
  await st.until('a live error', () => (st.diags.get(uri(w.policy)) || []).length === 1);
  await new Promise((r) => setTimeout(r, 200));
  assert.match(st.stderr, /level=DEBUG msg="validated policy being edited"/);
  const s2 = await conn.sendRequest('sandbox/status');
  assert.equal(s2.policyFile, w.policy);
  assert.equal(s2.trusted, true, 'a file that widens nothing is trusted');
  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
});
