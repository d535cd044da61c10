'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const vscode = require('../stub/register.cjs');
const { askApproval, choicesFor, decisionFor, ALLOW_ONCE, ALLOW_ALWAYS, DENY, DENY_ALWAYS, TRUST, NOT_NOW } = require('../../out/approvals.js');

const req = { id: 'a1', runId: 'r1', kind: 'network', target: 'example.com:443', command: 'curl https://example.com', message: 'curl wants example.com:443' };

test('decisionFor maps buttons and denies everything else', () => {
  assert.equal(decisionFor(ALLOW_ONCE), 'allow-once');
  assert.equal(decisionFor(ALLOW_ALWAYS), 'allow-always');
  assert.equal(decisionFor(DENY_ALWAYS), 'deny-always');
  assert.equal(decisionFor(DENY), 'deny');
  assert.equal(decisionFor(undefined), 'deny');
  assert.equal(decisionFor('allow-once'), 'deny');
  assert.equal(decisionFor('Allow Once '), 'deny');
  // An item that is not one of those offered denies.
  const offered = choicesFor(req);
  assert.equal(decisionFor({ title: 'x', decision: 'allow-always' }, offered), 'deny');
});

test('a network question: four choices, Deny is the close affordance (no VS Code Cancel, no second Deny)', async (t) => {
  let seen;
  t.mock.method(vscode.window, 'showWarningMessage', async (msg, opts, ...items) => {
    seen = { msg, opts, items };
    return items.find((i) => i.title === DENY_ALWAYS);
  });
  assert.deepEqual(await askApproval(req), { decision: 'deny-always' });
  assert.match(seen.msg, /example\.com:443/);
  assert.equal(seen.opts.modal, true);
  assert.match(seen.opts.detail, /curl https:\/\/example\.com/);
  assert.deepEqual(seen.items.map((i) => i.title), [ALLOW_ONCE, ALLOW_ALWAYS, DENY_ALWAYS, DENY]);
  assert.deepEqual(seen.items.filter((i) => i.isCloseAffordance).map((i) => i.title), [DENY]);
});

test('exactly the choices the server offers, Deny always added never, Deny always present', async (t) => {
  let items;
  t.mock.method(vscode.window, 'showWarningMessage', async (_m, _o, ...it) => { items = it; return it[0]; });
  assert.deepEqual(await askApproval({ ...req, choices: ['allow-once', 'deny'] }), { decision: 'allow-once' });
  assert.deepEqual(items.map((i) => i.title), [ALLOW_ONCE, DENY]);
  await askApproval({ ...req, choices: ['allow-once', 'bogus'] });
  assert.deepEqual(items.map((i) => i.title), [ALLOW_ONCE, DENY], 'an unknown choice is dropped; Deny is always there');
});

test('the trust question has its own buttons', async (t) => {
  let items;
  t.mock.method(vscode.window, 'showWarningMessage', async (_m, _o, ...it) => { items = it; return it.find((i) => i.title === TRUST); });
  assert.deepEqual(await askApproval({ ...req, kind: 'policy', target: '/w/.sandbox.toml', choices: ['allow-once', 'deny-always'] }), { decision: 'allow-always' });
  assert.deepEqual(items.map((i) => [i.title, !!i.isCloseAffordance]), [[TRUST, false], [NOT_NOW, true]]);
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
