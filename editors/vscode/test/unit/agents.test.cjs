'use strict';
// The agent entry points of the extension: the sandboxed terminal profile,
// the cordon_run language-model tool and the MCP server definitions. The
// stand-in lacks these newer APIs; each test adds what VS Code provides.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vscode = require('../stub/register.cjs');

// The newer APIs, added before our modules load (the bundle copies the
// module's members when it is required). Each test reads what was
// registered since it started.
const registered = { profiles: [], tools: [], mcp: [] };
vscode.window.registerTerminalProfileProvider = (id, p) => { registered.profiles.push([id, p]); return new vscode.Disposable(() => {}); };
vscode.TerminalProfile = class { constructor(options) { this.options = options; } };
vscode.ThemeIcon = class { constructor(id) { this.id = id; } };
vscode.lm = {
  registerTool: (name, tool) => { registered.tools.push([name, tool]); return new vscode.Disposable(() => {}); },
  registerMcpServerDefinitionProvider: (id, p) => { registered.mcp.push([id, p]); return new vscode.Disposable(() => {}); },
};
vscode.LanguageModelToolResult = class { constructor(content) { this.content = content; } };
vscode.LanguageModelTextPart = class { constructor(value) { this.value = value; } };
vscode.McpStdioServerDefinition = class { constructor(label, command, args, env, version) { Object.assign(this, { label, command, args, env, version }); } };

const terminal = require('../../out/terminal.js');
const lmtool = require('../../out/lmtool.js');
const mcp = require('../../out/mcp.js');

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '../../package.json'), 'utf8'));
const folders = [{ uri: vscode.Uri.file('/w/app'), name: 'app', index: 0 }, { uri: vscode.Uri.file('/w/lib'), name: 'lib', index: 1 }];

function withApis(t) {
  for (const k of Object.keys(registered)) registered[k] = [];
  const saved = vscode.workspace.workspaceFolders;
  vscode.workspace.workspaceFolders = folders;
  t.after(() => { vscode.workspace.workspaceFolders = saved; });
  return registered;
}

const host = { binary: () => '/opt/cordon/bin/cordon', version: () => '0.1.0' };

test('package.json contributes what the code registers', () => {
  assert.deepEqual(pkg.contributes.terminal.profiles.map((p) => [p.id, p.title]), [[terminal.TERMINAL_PROFILE, 'cordon (sandboxed)']]);
  const tool = pkg.contributes.languageModelTools.find((x) => x.name === lmtool.TOOL_NAME);
  assert.ok(tool, 'cordon_run is contributed');
  assert.deepEqual(tool.inputSchema.required, ['command']);
  assert.deepEqual(Object.keys(tool.inputSchema.properties).sort(), ['command', 'cwd', 'timeoutMs']);
  assert.match(tool.modelDescription, /sandbox/);
  assert.deepEqual(pkg.contributes.mcpServerDefinitionProviders.map((p) => p.id), [mcp.MCP_PROVIDER]);
  for (const ev of ['onTerminalProfile:cordon.terminal', 'onLanguageModelTool:cordon_run', 'onMcpCollection:cordon.mcp']) {
    assert.ok(pkg.activationEvents.includes(ev), ev);
  }
});

test('the terminal profile runs cordon shell in the first folder', (t) => {
  const reg = withApis(t);
  const ds = terminal.registerTerminalProfile(host);
  assert.equal(ds.length, 1);
  assert.equal(reg.profiles.length, 1);
  const [id, provider] = reg.profiles[0];
  assert.equal(id, 'cordon.terminal');
  const profile = provider.provideTerminalProfile();
  assert.equal(profile.options.name, 'cordon (sandboxed)');
  assert.equal(profile.options.shellPath, '/opt/cordon/bin/cordon');
  assert.deepEqual(profile.options.shellArgs, ['shell', '-l']);
  assert.equal(profile.options.cwd, '/w/app');
});

test('cordon_run: prepareInvocation shows the command and the workspace; invoke returns output and violations', async (t) => {
  const reg = withApis(t);
  let params;
  const client = {
    async run(p, sink, token) {
      params = p;
      assert.ok(token, 'the cancellation token is passed on');
      sink.output('stdout', 'hello\n');
      sink.output('stderr', 'touch: cannot touch\n');
      return { runId: 'run-1', exitCode: 1, violations: [{ runId: 'run-1', command: p.command, kind: 'write', target: '/etc/x', time: '' }, { runId: 'run-1', command: p.command, kind: 'net', target: 'evil.test:443', rule: { file: '/w/app/.sandbox.toml', line: 3 }, time: '' }] };
    },
  };
  lmtool.registerTool({ client: () => client });
  assert.equal(reg.tools.length, 1);
  const [name, tool] = reg.tools[0];
  assert.equal(name, 'cordon_run');
  const prep = tool.prepareInvocation({ input: { command: 'make `test`', cwd: '/w/lib/src' } }, new vscode.CancellationTokenSource().token);
  assert.match(prep.invocationMessage.value, /make 'test'/);
  assert.match(prep.invocationMessage.value, /\/w\/lib/);
  assert.match(prep.invocationMessage.value, /in \/w\/lib\/src/);
  assert.equal(prep.confirmationMessages, undefined, 'a sandboxed run needs no confirmation');

  const res = await tool.invoke({ input: { command: 'echo hello; touch /etc/x', timeoutMs: 5000 } }, new vscode.CancellationTokenSource().token);
  assert.deepEqual(params, { command: 'echo hello; touch /etc/x', timeoutMs: 5000, label: 'echo hello; touch /etc/x' });
  const text = res.content.map((p) => p.value).join('');
  assert.match(text, /^\$ echo hello; touch \/etc\/x\n\[cordon\] exit code 1\n/);
  assert.match(text, /stdout:\nhello\n/);
  assert.match(text, /stderr:\ntouch: cannot touch\n/);
  assert.match(text, /cordon: blocked write \/etc\/x \(default\)/);
  assert.match(text, /cordon: blocked net evil\.test:443 \(\/w\/app\/\.sandbox\.toml:3\)/);

  await assert.rejects(tool.invoke({ input: { command: '  ' } }, new vscode.CancellationTokenSource().token), /non-empty/);
});

test('cordon_run bounds what the model reads', () => {
  const big = 'A' + 'x'.repeat(200000) + 'Z';
  const { text, truncated } = lmtool.bound(big);
  assert.equal(truncated, true);
  assert.ok(text.length < lmtool.OUTPUT_LIMIT + 100);
  assert.ok(text.startsWith('A') && text.endsWith('Z'));
  assert.match(text, /characters omitted/);
  assert.deepEqual(lmtool.bound('short'), { text: 'short', truncated: false });
});

test('the MCP provider offers cordon mcp -w for each folder', (t) => {
  const reg = withApis(t);
  mcp.registerMcpProvider(host);
  assert.equal(reg.mcp.length, 1);
  const [id, provider] = reg.mcp[0];
  assert.equal(id, 'cordon.mcp');
  const defs = provider.provideMcpServerDefinitions(new vscode.CancellationTokenSource().token);
  assert.deepEqual(defs.map((d) => [d.label, d.command, d.args]), [
    ['cordon (app)', '/opt/cordon/bin/cordon', ['mcp', '-w', '/w/app']],
    ['cordon (lib)', '/opt/cordon/bin/cordon', ['mcp', '-w', '/w/lib']],
  ]);
  assert.equal(typeof provider.onDidChangeMcpServerDefinitions, 'function');
  // No binary: no definitions, no throw.
  assert.deepEqual(mcp.definitions({ binary() { throw new Error('missing'); }, version: () => '0' }, folders), []);
});
