// Drives code-server in headless Chromium: run a command from the palette,
// click Allow once on the approval, and find the violation in Problems;
// then the explain document, the runs view after two runs, a live
// diagnostic and completion while typing in .sandbox.toml, the trust
// question's own buttons, and "cordon: defaults" once the policy is gone.
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
