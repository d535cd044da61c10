'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const vscode = require('../stub/register.cjs');
const { askApproval, decisionFor, ALLOW_ONCE, ALLOW_ALWAYS, DENY } = require('../../out/approvals.js');

const req = { id: 'a1', runId: 'r1', kind: 'network', target: 'example.com:443', command: 'curl https://example.com', message: 'curl wants example.com:443' };

test('decisionFor maps buttons and denies everything else', () => {
  assert.equal(decisionFor(ALLOW_ONCE), 'allow-once');
  assert.equal(decisionFor(ALLOW_ALWAYS), 'allow-always');
  assert.equal(decisionFor(DENY), 'deny');
  assert.equal(decisionFor(undefined), 'deny');
  assert.equal(decisionFor('allow-once'), 'deny');
  assert.equal(decisionFor('Allow Once '), 'deny');
});

test('askApproval shows a modal warning with the three choices', async (t) => {
  let seen;
  t.mock.method(vscode.window, 'showWarningMessage', async (msg, opts, ...items) => {
    seen = { msg, opts, items };
    return ALLOW_ALWAYS;
  });
  assert.deepEqual(await askApproval(req), { decision: 'allow-always' });
  assert.match(seen.msg, /example\.com:443/);
  assert.equal(seen.opts.modal, true);
  assert.match(seen.opts.detail, /curl https:\/\/example\.com/);
  assert.deepEqual(seen.items, [ALLOW_ONCE, ALLOW_ALWAYS, DENY]);
});

test('a dismissed dialog denies', async (t) => {
  t.mock.method(vscode.window, 'showWarningMessage', async () => undefined);
  assert.deepEqual(await askApproval(req), { decision: 'deny' });
});

test('a malformed request is denied without asking', async (t) => {
  const m = t.mock.method(vscode.window, 'showWarningMessage', async () => ALLOW_ONCE);
  for (const bad of [undefined, null, {}, { kind: 'network' }, { ...req, target: 42 }]) {
    assert.deepEqual(await askApproval(bad), { decision: 'deny' });
  }
  assert.equal(m.mock.callCount(), 0);
});
