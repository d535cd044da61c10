// End-to-end test of `cordon lsp`: the real binary, the real sandbox, and
// vscode-jsonrpc (the transport VS Code's language client uses) as the
// client. Run with CORDON=/path/to/cordon (default ../../bin/cordon).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import rpc from 'vscode-jsonrpc/node.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cordon = process.env.CORDON || path.resolve(here, '../../bin/cordon');

function chownR(p, id) {
  fs.chownSync(p, id, id);
  if (fs.statSync(p).isDirectory()) for (const e of fs.readdirSync(p)) chownR(path.join(p, e), id);
}

function setup(uid) {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cordon-e2e-')));
  const ws = path.join(base, 'ws');
  fs.mkdirSync(ws, { recursive: true });
  const policy = path.join(ws, '.sandbox.toml');
  fs.writeFileSync(policy, '# e2e policy\n[filesystem]\ndeny_write = ["*.pem"]\n[network]\ndeny = ["denied.test"]\n');
  fs.writeFileSync(path.join(ws, 'key.pem'), 'secret\n');
  const env = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: path.join(base, 'home'),
    XDG_CONFIG_HOME: path.join(base, 'config'),
    XDG_STATE_HOME: path.join(base, 'state'),
  };
  fs.mkdirSync(path.join(env.HOME, '.aws'), { recursive: true });
  fs.writeFileSync(path.join(env.HOME, '.aws', 'credentials'), 's3cret-aws\n');
  if (uid !== undefined) {
    fs.chmodSync(base, 0o755);
    chownR(base, uid);
  }
  return { base, ws, policy, env, uid };
}

// start spawns the server and wires a client that records what it is told
// and answers approvals from a script.
function start(t, { env, ws, uid }, decide) {
  const ids = uid === undefined ? {} : { uid, gid: uid };
  const proc = spawn(cordon, ['lsp'], { env, cwd: ws, stdio: ['pipe', 'pipe', 'pipe'], ...ids });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  const conn = rpc.createMessageConnection(new rpc.StreamMessageReader(proc.stdout), new rpc.StreamMessageWriter(proc.stdin));
  const state = { diags: new Map(), output: '', violations: [], approvals: [], waiters: [] };
  const changed = () => { for (const w of state.waiters.splice(0)) w(); };
  conn.onNotification('textDocument/publishDiagnostics', (p) => { state.diags.set(p.uri, p.diagnostics); changed(); });
  conn.onNotification('sandbox/output', (p) => { state.output += p.data; });
  conn.onNotification('sandbox/violation', (v) => { state.violations.push(v); changed(); });
  conn.onNotification('$/progress', () => {});
  conn.onRequest('window/workDoneProgress/create', () => null);
  conn.onRequest('window/showMessageRequest', () => null);
  conn.onRequest('sandbox/approve', (q) => { state.approvals.push(q); return { decision: decide(q) }; });
  conn.onRequest('workspace/applyEdit', (p) => { applyEdit(p.edit); return { applied: true }; });
  conn.onError((e) => { state.error = e; });
  conn.listen();
  t.after(() => { if (proc.exitCode === null) proc.kill('SIGKILL'); conn.dispose(); });
  // until resolves when pred() holds after some notification, or fails.
  state.until = (what, pred, ms = 10000) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; diagnostics: ${JSON.stringify([...state.diags])}\nstderr: ${stderr}`)), ms);
    const check = () => { if (pred()) { clearTimeout(timer); resolve(); } else state.waiters.push(check); };
    check();
  });
  return { proc, conn, state, exited, stderr: () => stderr };
}

function applyEdit(edit) {
  for (const ch of edit.documentChanges || []) {
    if (ch.kind === 'create') {
      const f = fileURLToPath(ch.uri);
      if (!fs.existsSync(f)) fs.writeFileSync(f, '');
      continue;
    }
    const f = fileURLToPath(ch.textDocument.uri);
    let text = fs.readFileSync(f, 'utf8');
    for (const e of ch.edits) {
      const lines = text.split(/(?<=\n)/);
      let off = 0;
      for (let i = 0; i < e.range.start.line; i++) off += lines[i].length;
      off += e.range.start.character;
      text = text.slice(0, off) + e.newText + text.slice(off);
    }
    fs.writeFileSync(f, text);
  }
}

// sleeping counts the processes running `sleep MARKER`.
function sleeping(marker) {
  let n = 0;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args[0].endsWith('sleep') && args[1] === marker) n++;
    } catch { /* gone */ }
  }
  return n;
}

async function waitFor(pred, what, ms = 10000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const uri = (p) => pathToFileURL(p).href;
const codes = (list) => (list || []).map((d) => `${d.code}@${d.range.start.line}`);

// Run as the invoking user and, when that is root, also as nobody: the
// sandbox must hold either way.
const users = [['as ' + os.userInfo().username, undefined]];
if (process.getuid() === 0) users.push(['as nobody', 65534]);

for (const [who, uid] of users) test(`cordon lsp end to end ${who}`, { timeout: 120000 }, async (t) => {
  const w = setup(uid);
  const c = start(t, w, (q) => (q.target.startsWith('always.test') ? 'allow-always' : 'deny'));
  const { conn, state } = c;

  const init = await conn.sendRequest('initialize', {
    processId: process.pid,
    rootUri: uri(w.ws),
    workspaceFolders: [{ uri: uri(w.ws), name: 'ws' }],
    capabilities: { window: { workDoneProgress: true } },
    initializationOptions: { approvals: true },
  });
  assert.ok(init.capabilities.executeCommandProvider.commands.includes('cordon.server.run'));
  await conn.sendNotification('initialized', {});

  // 1. Writes inside, outside, and to a denied file inside the workspace.
  const outside = path.join('/etc', `cordon-e2e-${process.pid}`);
  const r1 = await conn.sendRequest('sandbox/run', {
    command: `echo hi > inside.txt; echo x > ${outside}; echo k2 > key.pem; echo done`,
    label: 'writes',
  });
  assert.equal(fs.readFileSync(path.join(w.ws, 'inside.txt'), 'utf8'), 'hi\n');
  assert.equal(fs.existsSync(outside), false, 'a write outside the workspace reached the host');
  assert.equal(fs.readFileSync(path.join(w.ws, 'key.pem'), 'utf8'), 'secret\n', 'deny_write file was written');
  const targets = r1.violations.map((v) => `${v.kind} ${v.target}`);
  assert.ok(targets.includes(`write ${outside}`), targets.join(', '));
  assert.ok(targets.includes(`write ${path.join(w.ws, 'key.pem')}`), targets.join(', '));
  await state.until('write-denied on key.pem', () => codes(state.diags.get(uri(path.join(w.ws, 'key.pem')))).includes('write-denied@0'));
  await state.until('violations on the policy lines', () => {
    const d = codes(state.diags.get(uri(w.policy)));
    // The default-decided one sits on [filesystem] (line 1), where its fix goes.
    return d.includes('write-denied@2') && d.includes('write-denied@1');
  });
  assert.match(state.output, /done/);

  // A quick fix for the write outside: allow_write of that file, never of
  // all of /etc in one click.
  const outDiag = state.diags.get(uri(w.policy)).find((d) => d.code === 'write-denied' && d.message.includes(outside));
  const actions = await conn.sendRequest('textDocument/codeAction', {
    textDocument: { uri: uri(w.policy) }, range: outDiag.range, context: { diagnostics: [outDiag] },
  });
  assert.equal(actions.length, 1, JSON.stringify(actions.map((a) => a.title)));
  assert.ok(JSON.stringify(actions[0].edit).includes(`allow_write = [\\"${outside}\\"]`), JSON.stringify(actions[0].edit));

  // 1b. A read of a credential: the sandbox sees its empty mask, and the
  // read is a violation of the run, notified and diagnosed like writes.
  const r1b = await conn.sendRequest('sandbox/run', { command: 'cat ~/.aws/credentials; echo read-done', label: 'reads' });
  const cred = path.join(w.env.HOME, '.aws', 'credentials');
  assert.deepEqual(r1b.violations.map((v) => `${v.kind} ${v.target}`), [`read ${cred}`]);
  assert.doesNotMatch(state.output, /s3cret/);
  await state.until('the read notified', () => state.violations.some((v) => v.kind === 'read' && v.target === cred && v.runId === r1b.runId && v.command === 'reads'));
  await state.until('read-denied on the policy', () => codes(state.diags.get(uri(w.policy))).some((c) => c.startsWith('read-denied@')));

  // 2. Network: denied by rule, and an unknown host approved for always.
  await conn.sendRequest('sandbox/run', {
    command: 'curl -s -m 5 -o /dev/null http://always.test/; sleep 1; curl -s -m 5 -o /dev/null -w "%{http_code}" http://denied.test/',
  });
  assert.deepEqual(state.approvals.map((q) => [q.kind, q.target]), [['network', 'always.test:80']]);
  assert.match(state.output, /403/);
  assert.match(fs.readFileSync(w.policy, 'utf8'), /^# e2e policy\n[\s\S]*allow = \["always.test:80"\]/);
  // The Always allow edit put `allow` under [network]: the deny rule is now on line 6.
  await state.until('net-denied on the deny rule', () => codes(state.diags.get(uri(w.policy))).includes('net-denied@5'));
  let st = await conn.sendRequest('sandbox/status');
  const hash = createHash('sha256').update(fs.readFileSync(w.policy)).digest('hex');
  for (let i = 0; i < 100 && st.policyHash !== hash; i++) {
    await new Promise((r) => setTimeout(r, 50));
    st = await conn.sendRequest('sandbox/status');
  }
  assert.equal(st.policyHash, hash);
  assert.equal(st.trusted, true, 'our own Always allow edit left the policy untrusted');
  assert.equal(st.root, w.ws);

  // 3. The policy edited on disk: invalid (error at its line), then fixed.
  const good = fs.readFileSync(w.policy, 'utf8');
  fs.writeFileSync(w.policy, good + '[limits]\ntimeout = "soon"\n');
  const lines = good.split('\n').length; // the timeout line, 0-based
  await state.until('policy-error', () => codes(state.diags.get(uri(w.policy))).includes(`policy-error@${lines}`));
  fs.writeFileSync(w.policy, good);
  await state.until('diagnostics cleared', () => (state.diags.get(uri(w.policy)) || []).length === 0);

  // 4. Cancelling a run kills its whole tree (a background grandchild too).
  const marker = `${30 + (process.pid % 1000) / 1000}`;
  const cts = new rpc.CancellationTokenSource();
  const started = Date.now();
  const long = conn.sendRequest('sandbox/run', { command: `sleep ${marker} & sleep ${marker}; wait` }, cts.token);
  await waitFor(() => sleeping(marker) === 2, 'the run to start');
  cts.cancel();
  await assert.rejects(long);
  assert.ok(Date.now() - started < 10000, 'cancel did not end the run');
  await waitFor(() => sleeping(marker) === 0, 'every process of the cancelled run to die');
  st = await conn.sendRequest('sandbox/status');
  assert.deepEqual(st.runs, []);

  await conn.sendRequest('shutdown');
  await conn.sendNotification('exit');
  assert.equal(await c.exited, 0);
  assert.equal(state.error, undefined, `protocol error: ${state.error}`);
});

// The editor vanishing (stdin closed, no shutdown) kills every run and
// the server exits 1.
for (const [who, uid] of users) test(`editor gone kills runs ${who}`, { timeout: 60000 }, async (t) => {
  const w = setup(uid);
  const c = start(t, w, () => 'deny');
  await c.conn.sendRequest('initialize', { processId: null, rootUri: uri(w.ws), capabilities: {} });
  await c.conn.sendNotification('initialized', {});
  const marker = `${40 + (process.pid % 1000) / 1000}${uid === undefined ? 1 : 2}`;
  c.conn.sendRequest('sandbox/run', { command: `sleep ${marker} & sleep ${marker}; wait` }).catch(() => {});
  await waitFor(() => sleeping(marker) === 2, 'the run to start');
  c.proc.stdin.end();
  assert.equal(await c.exited, 1);
  await waitFor(() => sleeping(marker) === 0, 'every process of the run to die');
});
