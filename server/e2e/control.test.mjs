// The control room end to end: a `cordon lsp` session (driven by
// vscode-jsonrpc, as VS Code drives it) serves a workspace; `cordon shell -c`
// and `cordon mcp` (driven by the official MCP TypeScript SDK) started in
// that workspace ask their approvals as sandbox/approve in that session,
// show their violations there as diagnostics, and are listed by
// sandbox/status with who started them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import rpc from 'vscode-jsonrpc/node.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cordon = process.env.CORDON || path.resolve(here, '../../bin/cordon');
const uri = (p) => pathToFileURL(p).href;

function setup(uid) {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cordon-room-')));
  const ws = path.join(base, 'ws');
  fs.mkdirSync(ws);
  const policy = path.join(ws, '.sandbox.toml');
  fs.writeFileSync(policy, '[network]\ndeny = ["denied.test"]\n');
  const env = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: path.join(base, 'home'),
    XDG_CONFIG_HOME: path.join(base, 'config'),
    XDG_STATE_HOME: path.join(base, 'state'),
    XDG_RUNTIME_DIR: path.join(base, 'run'),
  };
  fs.mkdirSync(env.HOME);
  fs.mkdirSync(env.XDG_RUNTIME_DIR, { mode: 0o700 });
  if (uid !== undefined) {
    fs.chmodSync(base, 0o755);
    for (const p of [base, ws, policy, env.HOME, env.XDG_RUNTIME_DIR]) fs.chownSync(p, uid, uid);
  }
  return { base, ws, policy, env, uid, runDir: path.join(env.XDG_RUNTIME_DIR, 'cordon') };
}

function lsp(t, w, decide) {
  const ids = w.uid === undefined ? {} : { uid: w.uid, gid: w.uid };
  const proc = spawn(cordon, ['lsp'], { env: w.env, cwd: w.ws, stdio: ['pipe', 'pipe', 'pipe'], ...ids });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const conn = rpc.createMessageConnection(new rpc.StreamMessageReader(proc.stdout), new rpc.StreamMessageWriter(proc.stdin));
  const state = { diags: new Map(), violations: [], approvals: [], statusDuring: [] };
  conn.onNotification('textDocument/publishDiagnostics', (p) => state.diags.set(p.uri, p.diagnostics));
  conn.onNotification('sandbox/violation', (v) => state.violations.push(v));
  conn.onNotification('sandbox/output', () => {});
  conn.onRequest('window/showMessageRequest', () => null);
  conn.onRequest('sandbox/approve', async (q) => {
    state.approvals.push(q);
    // While the question is open the run is listed, with its origin.
    state.statusDuring.push(await conn.sendRequest('sandbox/status'));
    return { decision: decide(q) };
  });
  conn.listen();
  t.after(() => { if (proc.exitCode === null) proc.kill('SIGKILL'); conn.dispose(); });
  return { proc, conn, state, stderr: () => stderr };
}

function shellC(w, command) {
  const ids = w.uid === undefined ? {} : { uid: w.uid, gid: w.uid };
  return new Promise((resolve) => {
    const p = spawn(cordon, ['shell', '-c', command], { env: w.env, cwd: w.ws, stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...ids });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function waitFor(pred, what, ms = 10000) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const sockets = (w) => (fs.existsSync(w.runDir) ? fs.readdirSync(w.runDir).filter((n) => n.endsWith('.sock')) : []);
const codes = (list) => (list || []).map((d) => `${d.code}@${d.range.start.line}`);

const users = [['as ' + os.userInfo().username, undefined]];
if (process.getuid() === 0) users.push(['as nobody', 65534]);

for (const [who, uid] of users) test(`control room ${who}`, { timeout: 120000 }, async (t) => {
  const w = setup(uid);
  const { conn, state, proc, stderr } = lsp(t, w, (q) => (q.target === 'registry.npmjs.org:80' ? 'allow-once' : 'deny'));
  await conn.sendRequest('initialize', {
    processId: process.pid, rootUri: uri(w.ws), workspaceFolders: [{ uri: uri(w.ws), name: 'ws' }],
    capabilities: {}, initializationOptions: { approvals: true },
  });
  await conn.sendNotification('initialized', {});
  await waitFor(() => sockets(w).length === 1, `the control socket; lsp stderr: ${stderr()}`);
  const st = fs.statSync(w.runDir);
  assert.equal(st.mode & 0o777, 0o700);
  assert.equal(st.uid, uid ?? process.getuid());

  // cordon shell -c: an unknown host asked in the editor (and allowed once,
  // it reaches the real registry), a refused write shown there.
  const outside = `/etc/cordon-room-${process.pid}`;
  const r = await shellC(w, `curl -s -m 10 -o /dev/null -w "%{http_code}\\n" http://registry.npmjs.org/; echo x > ${outside}; curl -s -m 5 -o /dev/null -w "%{http_code}\\n" http://denied.test/`);
  assert.equal(r.code, 0, r.stderr);
  const [first, second] = r.stdout.trim().split('\n');
  assert.notEqual(first, '403', 'allowed once in the editor');
  assert.equal(second, '403');
  assert.equal(fs.existsSync(outside), false);
  assert.deepEqual(state.approvals.map((q) => [q.kind, q.target, q.command]), [['network', 'registry.npmjs.org:80', r.stdout ? state.approvals[0].command : '']]);
  assert.match(state.approvals[0].command, /curl -s -m 10/);
  const shellRun = state.approvals[0].runId;
  const listed = state.statusDuring[0].runs.find((x) => x.runId === shellRun);
  assert.equal(listed?.origin, 'shell', JSON.stringify(state.statusDuring[0].runs));
  assert.equal(listed.cwd, w.ws);
  assert.ok(listed.pid > 0);
  const targets = () => state.violations.filter((v) => v.runId === shellRun).map((v) => `${v.kind} ${v.target}`);
  await waitFor(() => targets().includes(`write ${outside}`) && targets().includes('net denied.test:80'), `the violations; got ${targets()}`);
  await waitFor(() => {
    const d = codes(state.diags.get(uri(w.policy)));
    return d.includes('write-denied@0') && d.includes('net-denied@1');
  }, 'diagnostics on the policy');
  // The terminal still gets its report too.
  assert.match(r.stderr, new RegExp(`cordon: blocked write ${outside} \\(default\\)`));

  // cordon mcp, by the official MCP client without elicitation: the
  // question goes to the editor (denied there), the model is told.
  if (uid === undefined) {
    const client = new Client({ name: 'room-e2e', version: '0' }, { capabilities: {} });
    await client.connect(new StdioClientTransport({ command: cordon, args: ['mcp'], env: w.env, cwd: w.ws, stderr: 'pipe' }));
    t.after(() => client.close());
    const res = await client.callTool({ name: 'run', arguments: { command: 'curl -s -m 5 -o /dev/null -w "%{http_code}\\n" http://asked-in-editor.test/; touch /etc/cordon-room-mcp' } });
    assert.equal(res.structuredContent.stdout, '403\n');
    const q = state.approvals.find((a) => a.target === 'asked-in-editor.test:80');
    assert.ok(q, JSON.stringify(state.approvals));
    const during = state.statusDuring[state.approvals.indexOf(q)].runs.find((x) => x.runId === q.runId);
    assert.equal(during?.origin, 'mcp');
    await waitFor(() => state.violations.some((v) => v.runId === q.runId && v.target === '/etc/cordon-room-mcp'), 'the mcp run\'s violation');
    assert.ok(res.structuredContent.violations.some((v) => v.target === 'asked-in-editor.test:80'));
  }

  // sandbox/stop ends a routed run: the editor stops a cordon shell -c.
  const startedAt = Date.now();
  // (Stopped once it runs: a cancel in cordon's first few milliseconds of
  // set-up is lost by the backend today, see the README's known limits.)
  const marker = path.join(w.ws, 'sleeper-started');
  const sleeper = shellC(w, 'touch sleeper-started; sleep 30; echo not stopped');
  let routedRun;
  for (let i = 0; i < 400 && !routedRun; i++) {
    const st2 = await conn.sendRequest('sandbox/status');
    routedRun = fs.existsSync(marker) && st2.runs.find((x) => x.origin === 'shell' && x.command.startsWith('touch sleeper-started'));
    if (!routedRun) await new Promise((res) => setTimeout(res, 50));
  }
  assert.ok(routedRun, 'the routed run is listed');
  assert.deepEqual(await conn.sendRequest('sandbox/stop', { runId: routedRun.runId }), {});
  const stopped = await sleeper;
  assert.ok(Date.now() - startedAt < 20000, 'sandbox/stop did not end the run');
  assert.equal(stopped.stdout, '');
  assert.notEqual(stopped.code, 0);

  // Routed runs leave the list when they end.
  let after;
  for (let i = 0; i < 100; i++) {
    after = await conn.sendRequest('sandbox/status');
    if (after.runs.length === 0) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.deepEqual(after.runs, []);

  // A session that dies leaves a stale socket: runs fall back (no editor,
  // no terminal: unknown hosts denied), and the next session replaces it.
  proc.kill('SIGKILL');
  await new Promise((res) => proc.on('exit', res));
  assert.equal(sockets(w).length, 1, 'positive control: the dead session left its socket');
  const alone = await shellC(w, 'curl -s -m 5 -o /dev/null -w "%{http_code}\\n" http://nobody-asks.test/');
  assert.equal(alone.code, 0, alone.stderr);
  assert.equal(alone.stdout, '403\n');
  assert.doesNotMatch(alone.stderr, /not using the editor session/);
  const again = lsp(t, w, () => 'allow-once');
  await again.conn.sendRequest('initialize', { processId: process.pid, rootUri: uri(w.ws), capabilities: {}, initializationOptions: { approvals: true } });
  await again.conn.sendNotification('initialized', {});
  await waitFor(() => sockets(w).length === 1, 'the replaced socket');
  const routed = await shellC(w, 'curl -s -m 5 -o /dev/null http://second-session.test/; true');
  assert.equal(routed.code, 0);
  await waitFor(() => again.state.approvals.some((a) => a.target === 'second-session.test:80'), 'the question in the new session');
});
