'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
require('../stub/register.cjs');
const { stateOf, StatusBar, formatStatus } = require('../../out/status.js');
const { stateDir, auditLogPath } = require('../../out/policy.js');

const ok = { root: '/w', policyFile: '/w/.sandbox.toml', policyHash: 'h', trusted: true, backend: 'linux-bwrap', capabilities: {}, runs: [] };

test('stateOf: the worst state wins', () => {
  assert.equal(stateOf(undefined, 0), 'stopped');
  assert.equal(stateOf(ok, 0), 'active');
  assert.equal(stateOf({ ...ok, trusted: false }, 0), 'untrusted');
  assert.equal(stateOf({ ...ok, policyFile: null, trusted: false }, 0), 'defaults');
  assert.equal(stateOf({ ...ok, lastGood: true, error: 'x' }, 0), 'invalid');
  assert.equal(stateOf({ ...ok, trusted: false, untrusted: [{ kind: 'net', target: 'a:1', line: 2 }] }, 0), 'untrusted');
  assert.equal(stateOf({ ...ok, trusted: false }, 2), 'invalid');
  for (const backend of ['', 'none', 'NONE', 'unavailable', undefined]) {
    assert.equal(stateOf({ ...ok, backend, trusted: false }, 3), 'backend-missing', String(backend));
  }
});

test('status bar shows the state and opens the menu', () => {
  const bar = new StatusBar('cordon.menu');
  assert.equal(bar.item.command, 'cordon.menu');
  bar.show('defaults');
  assert.equal(bar.item.text, '$(shield) cordon: defaults');
  bar.show('restricted');
  assert.match(bar.item.tooltip, /Restricted Mode/);
  bar.show('invalid', 'bwrap + seccomp', 'line 2: bad');
  assert.match(bar.item.tooltip, /LAST GOOD[\s\S]*line 2: bad/);
  bar.show('untrusted');
  assert.match(bar.item.text, /untrusted/);
  assert.ok(bar.item.backgroundColor);
  bar.show('active', 'bwrap + seccomp + Landlock ABI 7');
  assert.equal(bar.item.backgroundColor, undefined);
  assert.match(bar.item.tooltip, /sandbox active: bwrap \+ seccomp \+ Landlock ABI 7/);
  bar.show('backend-missing');
  assert.match(bar.item.tooltip, /doctor/);
  assert.match(formatStatus(ok, 'active'), /backend: +linux-bwrap/);
  assert.match(formatStatus({ ...ok, policyFile: null, trusted: false }, 'defaults'), /policy: +\(none: built-in defaults\)\nhash: +h\ntrusted: +- \(no file\)/);
  assert.match(formatStatus({ ...ok, lastGood: true, error: 'e1' }, 'invalid'), /last good policy is in force[\s\S]*e1/);
});

test('state dir follows XDG_STATE_HOME, ignoring a relative one', () => {
  assert.equal(stateDir({ XDG_STATE_HOME: '/s', HOME: '/h' }), '/s/cordon');
  assert.equal(stateDir({ XDG_STATE_HOME: 'rel', HOME: '/h' }), '/h/.local/state/cordon');
  assert.equal(auditLogPath({ HOME: '/h' }), '/h/.local/state/cordon/audit.log');
});
