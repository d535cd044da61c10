// Drives code-server in headless Chromium: run a command from the palette,
// click Allow once on the approval, and find the violation in Problems;
// then the explain document, the runs view after two runs, a live
// diagnostic and completion while typing in .sandbox.toml, the trust
// question's own buttons, an "Always allow" revoked from the audit view,
// and "cordon: defaults" once the policy is gone. Between them, an
// integrated terminal running `cordon shell` refuses a write outside the
// workspace.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH, 'x.js'));
const { chromium } = require('playwright-core');

const url = process.env.URL;
const ws = process.env.WS;
const shots = process.env.SHOTS;
const shot = (page, name) => page.screenshot({ path: path.join(shots, `${name}.png`) });

async function waitUp(ms) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) throw new Error(`code-server did not come up at ${url}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

await waitUp(60000);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
try {
  await page.goto(url);
  await page.waitForSelector('.monaco-workbench', { timeout: 60000 });
  // The extension activates on .sandbox.toml; its status bar item appears.
  await page.waitForSelector('.statusbar-item:has-text("cordon")', { timeout: 60000 });
  await shot(page, '1-workbench');

  await page.keyboard.press('F1');
  await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
  await page.keyboard.type('cordon: Run Command in Sandbox');
  await page.waitForSelector('.quick-input-list .monaco-list-row:has-text("Run Command in Sandbox")');
  await page.keyboard.press('Enter');
  // The input box, not the palette still closing: wait for its prompt.
  await page.waitForSelector('.quick-input-widget:has-text("runs under /bin/sh -c inside the sandbox")');
  await page.keyboard.type('echo from-e2e; curl -s -m 60 http://approve-me.example/; curl -s -m 5 http://blocked.example/; exit 3');
  await shot(page, '2-command');
  await page.keyboard.press('Enter');

  const allow = page.locator('.monaco-dialog-box .monaco-button', { hasText: 'Allow once' });
  await allow.waitFor({ timeout: 60000 });
  await shot(page, '3-approval');
  await allow.click();

  await page.keyboard.press('Control+Shift+M');
  const problem = page.locator('.markers-panel .monaco-list-row:has-text("blocked.example:80")');
  await problem.first().waitFor({ timeout: 60000 });
  await shot(page, '4-problems');

  // Nothing left behind: the placeholders cordon makes for protected paths
  // (.bashrc, .vscode, ...) are gone from the workspace once the run ends.
  await page.locator('.output-view, .monaco-workbench').first().waitFor();
  const leftover = page.locator('.explorer-folders-view .monaco-list-row', { hasText: '.bashrc' });
  const end = Date.now() + 20000;
  while ((await leftover.count()) > 0 && Date.now() < end) await page.waitForTimeout(250);
  await shot(page, '5-after-run');
  if ((await leftover.count()) > 0) throw new Error('placeholder .bashrc still shown in the workspace after the run');
  console.log('e2e-vscode: approval clicked, violation shown in Problems');

  // Issue #10: a sandboxed integrated terminal. A write outside
  // the workspace is refused there (we are root: outside a sandbox it
  // would succeed), one inside it lands on disk.
  const outside = '/etc/cordon-e2e-x';
  fs.rmSync(outside, { force: true });
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
  await page.keyboard.type('Terminal: Create New Terminal (With Profile)');
  await page.waitForSelector('.quick-input-list .monaco-list-row:has-text("Create New Terminal (With Profile)")');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.quick-input-widget input[placeholder*="terminal profile"]', { timeout: 30000 });
  // code-server 4.139 does not list the extension's contributed profile
  // (nor open it by {extensionIdentifier, id} or from a settings entry that
  // names it), so the check runs the same shell through a settings profile
  // (e2e-vscode.sh): the command terminalOptions() gives, `cordon shell -l`.
  const contributed = (await page.locator('.quick-input-list .monaco-list-row', { hasText: 'cordon (sandboxed)' }).count()) > 0;
  console.log(`e2e-vscode: contributed profile "cordon (sandboxed)" listed by code-server: ${contributed ? 'yes' : 'no'}`);
  await page.keyboard.type('cordon-shell');
  const profile = page.locator('.quick-input-list .monaco-list-row', { hasText: 'cordon-shell' });
  await profile.first().waitFor({ timeout: 30000 });
  await shot(page, '5a-terminal-profiles');
  await profile.first().click();
  const rows = page.locator('.terminal-wrapper.active .xterm-rows').first();
  await rows.waitFor({ timeout: 30000 });
  const termText = async () => (await rows.innerText()).replace(/\u00a0/g, ' ');
  const waitTerm = async (what, re, ms) => {
    const until = Date.now() + ms;
    for (;;) {
      const t = await termText();
      if (re.test(t)) return t;
      if (Date.now() > until) throw new Error(`${what}; the terminal shows:\n${t}`);
      await page.waitForTimeout(250);
    }
  };
  // A prompt first: the sandboxed shell is up.
  await waitTerm('no shell prompt in the sandboxed terminal', /[$#] *$/m, 30000);
  await page.locator('.terminal-wrapper.active .xterm').first().click();
  await page.keyboard.type(`touch ${outside}; echo out_rc=$?`);
  await page.keyboard.press('Enter');
  await waitTerm('the write outside the workspace was not refused', /Read-only file system[\s\S]*out_rc=1\b/, 30000);
  await page.keyboard.type('echo inside > cordon-e2e-in.txt; echo in_rc=$?');
  await page.keyboard.press('Enter');
  const text = await waitTerm('the write inside the workspace did not succeed', /in_rc=0\b/, 30000);
  await shot(page, '5b-sandboxed-terminal');
  if (fs.existsSync(outside)) throw new Error(`${outside} was created on the host from the sandboxed terminal`);
  if (fs.readFileSync(path.join(ws, 'cordon-e2e-in.txt'), 'utf8') !== 'inside\n') throw new Error('the write inside the workspace did not reach the disk');
  fs.writeFileSync(path.join(shots, '5b-sandboxed-terminal.txt'), text);
  await page.keyboard.type('exit');
  await page.keyboard.press('Enter');
  // Focus back on the editor area, out of the (closing) terminal.
  await page.locator('.terminal-wrapper.active').waitFor({ state: 'detached', timeout: 15000 }).catch(() => undefined);
  await page.locator('.part.editor').click();
  console.log('e2e-vscode: integrated terminal on cordon shell: write outside refused (Read-only file system), inside written');

  const palette = async (cmd, rowText = cmd) => {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
    await page.keyboard.type(cmd);
    await page.waitForSelector(`.quick-input-list .monaco-list-row:has-text("${rowText}")`);
    await page.keyboard.press('Enter');
  };

  // The explain document: read-only, the live policy rule by rule.
  await palette('cordon: Explain Policy', 'Explain Policy');
  await page.waitForSelector('.tab:has-text("cordon explain")', { timeout: 30000 });
  await page.waitForSelector('.monaco-editor .view-lines:has-text("blocked.example")', { timeout: 30000 });
  await shot(page, '6-explain');
  console.log('e2e-vscode: explain document shown');

  // A second run, then the runs view in the Explorer lists both.
  await palette('cordon: Run Command in Sandbox', 'Run Command in Sandbox');
  await page.waitForSelector('.quick-input-widget:has-text("runs under /bin/sh -c inside the sandbox")');
  await page.keyboard.type('echo second-run');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Control+Shift+E');
  const runsHeader = page.locator('.pane-header', { hasText: 'cordon runs' });
  await runsHeader.waitFor({ timeout: 30000 });
  if ((await runsHeader.getAttribute('aria-expanded')) !== 'true') await runsHeader.click();
  await page.locator('.pane-body .monaco-list-row', { hasText: 'echo second-run' }).first().waitFor({ timeout: 30000 });
  await page.locator('.pane-body .monaco-list-row', { hasText: 'exit 3' }).first().waitFor({ timeout: 30000 });
  await shot(page, '7-runs-view');
  console.log('e2e-vscode: runs view lists both runs');

  // Typing in .sandbox.toml: a live diagnostic before any save, and completion.
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+P');
  await page.waitForSelector('.quick-input-widget input', { state: 'visible' });
  await page.keyboard.type('.sandbox.toml');
  await page.waitForSelector('.quick-input-list .monaco-list-row:has-text(".sandbox.toml")');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.tab.active:has-text(".sandbox.toml")');
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.press('Control+End');
  await page.keyboard.type('\n[limits]\ntimeout = "soon"');
  await page.keyboard.press('Control+Shift+M');
  await page.locator('.markers-panel .monaco-list-row', { hasText: 'limits.timeout' }).first().waitFor({ timeout: 30000 });
  await shot(page, '8-live-diagnostic');
  await page.click('.monaco-editor .view-lines');
  await page.keyboard.press('Control+End');
  await page.keyboard.type('\n');
  await page.keyboard.press('Control+Space');
  await page.locator('.suggest-widget .monaco-list-row', { hasText: 'memory' }).first().waitFor({ timeout: 30000 });
  await shot(page, '9-completion');
  await page.keyboard.press('Escape');
  await palette('File: Revert File', 'Revert File');
  console.log('e2e-vscode: live diagnostic and completion in .sandbox.toml');

  // A widening on disk: nothing pops up; Trust shows its own buttons.
  fs.writeFileSync(path.join(ws, '.sandbox.toml'), '[network]\nunknown = "ask"\nallow = ["pkg.example:443"]\n');
  await page.waitForSelector('.statusbar-item:has-text("cordon: untrusted")', { timeout: 30000 });
  if ((await page.locator('.monaco-dialog-box').count()) > 0) throw new Error('a dialog popped up when the policy changed');
  await palette('cordon: Trust Policy', 'Trust Policy');
  const trust = page.locator('.monaco-dialog-box .monaco-button', { hasText: 'Trust this file' });
  await trust.waitFor({ timeout: 30000 });
  await page.locator('.monaco-dialog-box .monaco-button', { hasText: 'Not now' }).waitFor();
  await page.locator('.monaco-dialog-box:has-text("pkg.example:443")').waitFor();
  await shot(page, '10-trust');
  await trust.click();
  await page.waitForSelector('.statusbar-item:has-text("cordon"):not(:has-text("untrusted"))', { timeout: 30000 });
  console.log('e2e-vscode: trust question with its own buttons');

  // Issue #14: an "Always allow" answered in a run, then revoked from the
  // audit view: the rule leaves [network] allow of .sandbox.toml on disk.
  const policy = path.join(ws, '.sandbox.toml');
  const waitFile = async (what, ok, ms) => {
    const until = Date.now() + ms;
    while (!ok(fs.readFileSync(policy, 'utf8'))) {
      if (Date.now() > until) throw new Error(`${what}; .sandbox.toml is:\n${fs.readFileSync(policy, 'utf8')}`);
      await page.waitForTimeout(250);
    }
  };
  await palette('cordon: Run Command in Sandbox', 'Run Command in Sandbox');
  await page.waitForSelector('.quick-input-widget:has-text("runs under /bin/sh -c inside the sandbox")');
  await page.keyboard.type('curl -s -m 60 http://always-me.example/; echo always-run');
  await page.keyboard.press('Enter');
  const always = page.locator('.monaco-dialog-box .monaco-button', { hasText: 'Always allow' });
  await always.waitFor({ timeout: 60000 });
  await shot(page, '12-always-allow');
  await always.click();
  await waitFile('"Always allow" did not reach .sandbox.toml', (t) => t.includes('always-me.example:80'), 30000);
  await palette('cordon: Show Audit Log', 'Show Audit Log');
  await page.waitForSelector('.quick-input-list .monaco-list-row:has-text("All decisions")', { timeout: 30000 });
  await page.keyboard.press('Enter');
  await page.waitForSelector('.tab.active:has-text("cordon audit log")', { timeout: 30000 });
  await page.waitForSelector('.monaco-editor .view-lines:has-text("allow-always")', { timeout: 30000 });
  // The audit table's own title action, as a user would click it.
  await page.locator('.editor-actions .action-label[aria-label*="Revoke"]').first().click({ timeout: 30000 });
  const rule = page.locator('.quick-input-list .monaco-list-row', { hasText: 'always-me.example:80' });
  await rule.first().waitFor({ timeout: 30000 });
  await shot(page, '13-revoke-pick');
  await rule.first().click();
  await waitFile('the revoked rule is still in .sandbox.toml', (t) => !t.includes('always-me.example'), 30000);
  if (!fs.readFileSync(policy, 'utf8').includes('pkg.example:443')) throw new Error('revoke took more than its rule out of .sandbox.toml');
  await page.waitForSelector('.notifications-toasts:has-text("always-me.example:80 is no longer allowed"), .notification-toast:has-text("no longer allowed")', { timeout: 30000 });
  await shot(page, '14-revoked');
  console.log('e2e-vscode: "Always allow" revoked from the audit view; rule gone from .sandbox.toml on disk');

  // No policy at all: the status item says the defaults apply.
  fs.rmSync(path.join(ws, '.sandbox.toml'));
  await page.waitForSelector('.statusbar-item:has-text("cordon: defaults")', { timeout: 30000 });
  await shot(page, '11-defaults');
  console.log('e2e-vscode: "cordon: defaults" without a policy; screenshots in', shots);
} catch (err) {
  await shot(page, 'failure').catch(() => undefined);
  console.error('e2e-vscode failed:', err);
  process.exitCode = 1;
} finally {
  await browser.close();
}
