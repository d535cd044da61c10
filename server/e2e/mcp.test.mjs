// End-to-end test of `cordon mcp` with the official TypeScript MCP SDK as
// the client: the real binary, the real sandbox, over stdio.
// Run with CORDON=/path/to/cordon (default ../../bin/cordon).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema, CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const cordon = process.env.CORDON || path.resolve(here, '../../bin/cordon');

function workspace() {
  const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'cordon-mcp-')));
  const ws = path.join(base, 'ws');
  fs.mkdirSync(path.join(ws, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(ws, '.sandbox.toml'), '[filesystem]\ndeny_write = ["*.pem"]\n[network]\ndeny = ["denied.test"]\n');
  fs.writeFileSync(path.join(ws, 'key.pem'), 'secret\n');
  const env = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: path.join(base, 'home'),
    XDG_CONFIG_HOME: path.join(base, 'config'),
    XDG_STATE_HOME: path.join(base, 'state'),
    XDG_RUNTIME_DIR: path.join(base, 'run'),
    GITHUB_TOKEN: 'ghp_must_not_leak',
    MY_API_KEY: 'must-not-leak',
    PLAIN_VAR: 'visible',
  };
  fs.mkdirSync(env.HOME);
  fs.mkdirSync(env.XDG_RUNTIME_DIR, { mode: 0o700 });
  return { base, ws, env };
}

async function connect(t, w, { elicit } = {}) {
  const capabilities = elicit ? { elicitation: {} } : {};
  const client = new Client({ name: 'cordon-e2e', version: '0.0.0' }, { capabilities });
  const asked = [];
  if (elicit) {
    client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params);
      return elicit(req.params);
    });
  }
  const transport = new StdioClientTransport({ command: cordon, args: ['mcp', '-w', w.ws], env: w.env, cwd: w.ws, stderr: 'pipe' });
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr += d; });
  await client.connect(transport);
  t.after(() => client.close());
  return { client, asked, stderr: () => stderr };
}

const text = (res) => res.content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');

test('cordon mcp: tools, runs, refusals, secrets, errors', async (t) => {
  const w = workspace();
  const { client } = await connect(t, w);

  const { tools } = await client.listTools();
  const byName = Object.fromEntries(tools.map((x) => [x.name, x]));
  assert.deepEqual(Object.keys(byName).sort(), ['explain', 'run', 'status']);
  const run = byName.run;
  assert.match(run.description, /sandbox/);
  assert.equal(run.inputSchema.type, 'object');
  assert.deepEqual(run.inputSchema.required, ['command']);
  for (const p of ['command', 'cwd', 'timeout_ms']) assert.ok(run.inputSchema.properties[p]?.description, `run.${p} has a description`);
  assert.equal(run.inputSchema.properties.timeout_ms.type, 'integer');
  for (const p of ['exitCode', 'stdout', 'stderr', 'violations', 'truncated']) assert.ok(run.outputSchema.properties[p], `output ${p}`);
  assert.ok(byName.status.description && byName.explain.description);

  // Output, exit status, a refused write (outside the workspace and on a
  // deny_write file) reach the model, with the rule that decided.
  let res = await client.callTool({ name: 'run', arguments: { command: 'echo hello; echo oops >&2; touch /etc/cordon-mcp-probe; echo x > ../key.pem; pwd; exit 3', cwd: 'sub' } });
  assert.equal(res.isError ?? false, false, text(res));
  const sc = res.structuredContent;
  assert.equal(sc.exitCode, 3);
  assert.equal(sc.stdout, `hello\n${w.ws}/sub\n`);
  assert.match(sc.stderr, /oops/);
  assert.equal(sc.truncated, false);
  const kinds = sc.violations.map((v) => `${v.kind} ${v.target} ${v.rule}`);
  assert.ok(kinds.includes('write /etc/cordon-mcp-probe default'), kinds.join('; '));
  assert.ok(kinds.includes(`write ${w.ws}/key.pem ${w.ws}/.sandbox.toml:2`), kinds.join('; '));
  assert.ok(!fs.existsSync('/etc/cordon-mcp-probe'));
  assert.equal(fs.readFileSync(path.join(w.ws, 'key.pem'), 'utf8'), 'secret\n');
  const said = text(res);
  assert.match(said, /exit status 3/);
  assert.match(said, /writing \/etc\/cordon-mcp-probe was refused by the built-in defaults.*allow_write/);
  assert.match(said, new RegExp(`writing ${w.ws}/key.pem was refused by the rule at ${w.ws}/.sandbox.toml:2`));

  // A refused host is explained: a deny rule, and an unknown host with
  // nobody to ask (no elicitation, no editor session).
  res = await client.callTool({ name: 'run', arguments: { command: 'curl -s -m 5 -o /dev/null -w "%{http_code}\\n" http://denied.test/; curl -s -m 5 -o /dev/null -w "%{http_code}\\n" http://unknown-host.test/' } });
  assert.equal(res.structuredContent.stdout, '403\n403\n');
  const nets = res.structuredContent.violations.filter((v) => v.kind === 'net').map((v) => v.target);
  assert.deepEqual(nets.sort(), ['denied.test:80', 'unknown-host.test:80']);
  assert.match(text(res), new RegExp(`connection to denied.test:80 was refused by the rule at ${w.ws}/.sandbox.toml:4`));
  assert.match(text(res), /unknown-host.test:80 is not in the policy and there was nobody to ask.*allow unknown-host.test in \[network\] allow/);

  // Secret-looking variables never reach the command.
  res = await client.callTool({ name: 'run', arguments: { command: 'echo "gh=${GITHUB_TOKEN:-absent} key=${MY_API_KEY:-absent} plain=$PLAIN_VAR"' } });
  assert.equal(res.structuredContent.stdout, 'gh=absent key=absent plain=visible\n');

  // Output is bounded; the start and the end are kept.
  res = await client.callTool({ name: 'run', arguments: { command: 'echo FIRST; head -c 300000 /dev/zero | tr "\\0" a; echo; echo LAST' } });
  const out = res.structuredContent.stdout;
  assert.equal(res.structuredContent.truncated, true);
  assert.ok(out.length < 70000, `stdout is ${out.length} characters`);
  assert.ok(out.startsWith('FIRST\n') && out.endsWith('LAST\n'));
  assert.match(out, /bytes omitted/);

  // Malformed calls are errors, and the server still serves.
  await assert.rejects(client.callTool({ name: 'run', arguments: { command: '' } }), /command is empty/);
  const bad = await client.callTool({ name: 'run', arguments: { command: 42 } }).catch((e) => ({ rejected: e }));
  assert.ok(bad.rejected || bad.isError, 'a number for command is refused');
  await assert.rejects(client.callTool({ name: 'nonesuch', arguments: {} }));
  const outside = await client.callTool({ name: 'run', arguments: { command: 'true', cwd: '/etc' } });
  assert.equal(outside.isError, true);
  assert.match(text(outside), /outside the workspace/);
  res = await client.callTool({ name: 'run', arguments: { command: 'echo still here' } });
  assert.equal(res.structuredContent.stdout, 'still here\n');

  // A signal: 128+N, as a shell gives it.
  res = await client.callTool({ name: 'run', arguments: { command: 'kill -TERM $$' } });
  assert.equal(res.structuredContent.exitCode, 143);

  // status and explain.
  res = await client.callTool({ name: 'status', arguments: {} });
  assert.equal(res.structuredContent.root, w.ws);
  assert.equal(res.structuredContent.policyFile, path.join(w.ws, '.sandbox.toml'));
  assert.equal(res.structuredContent.trusted, true);
  assert.equal(res.structuredContent.backend, 'bwrap');
  assert.ok(Object.keys(res.structuredContent.layers).length > 0);
  res = await client.callTool({ name: 'explain', arguments: {} });
  assert.match(text(res), /no-write\s+\S+\*\.pem\s+\(\S+\.sandbox\.toml:2[;)]/);
  assert.match(text(res), /denied\.test/);
});

test('cordon mcp: progress for a long run, elicitation allows a host once', async (t) => {
  const w = workspace();
  // 'allow once' is one connection; 'allow for this run' holds for the run.
  const decisions = ['allow for this run', 'deny'];
  const { client, asked } = await connect(t, w, {
    elicit: () => ({ action: 'accept', content: { decision: decisions.shift() ?? 'deny' } }),
  });
  const progress = [];
  let res = await client.callTool({ name: 'run', arguments: { command: 'for i in 1 2 3; do echo $i; sleep 0.7; done' } }, CallToolResultSchema, {
    onprogress: (p) => progress.push(p),
  });
  assert.equal(res.structuredContent.stdout, '1\n2\n3\n');
  assert.ok(progress.length >= 1, 'progress notifications');
  assert.match(progress[0].message, /running for/);

  // Allowed by the user through elicitation, the connection reaches the
  // real registry (CI reaches it: it installs from it); the answer holds
  // for the rest of that run. In the next run the user denies: cordon's 403.
  res = await client.callTool({ name: 'run', arguments: { command: 'for i in 1 2; do curl -s -m 10 -o /dev/null -w "%{http_code}\\n" http://registry.npmjs.org/; done' } });
  assert.equal(asked.length, 1, JSON.stringify(asked));
  assert.match(asked[0].message, /registry\.npmjs\.org:80/);
  assert.deepEqual(asked[0].requestedSchema.properties.decision.enum, ['allow once', 'allow for this run', 'deny']);
  const codes = res.structuredContent.stdout.trim().split('\n');
  assert.equal(codes.length, 2);
  for (const c of codes) assert.notEqual(c, '403', 'allowed');
  assert.deepEqual(res.structuredContent.violations, []);
  res = await client.callTool({ name: 'run', arguments: { command: 'curl -s -m 10 -o /dev/null -w "%{http_code}\\n" http://registry.npmjs.org/' } });
  assert.equal(asked.length, 2, 'a new run asks again');
  assert.equal(res.structuredContent.stdout, '403\n');
  assert.deepEqual(res.structuredContent.violations.map((v) => v.target), ['registry.npmjs.org:80']);
});
