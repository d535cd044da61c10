// Drives code-server in headless Chromium: run a command from the palette,
// click Allow once on the approval, and find the violation in Problems.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH, 'x.js'));
const { chromium } = require('playwright-core');

const url = process.env.URL;
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
  console.log('e2e-vscode: approval clicked, violation shown in Problems; screenshots in', shots);
} catch (err) {
  await shot(page, 'failure').catch(() => undefined);
  console.error('e2e-vscode failed:', err);
  process.exitCode = 1;
} finally {
  await browser.close();
}
