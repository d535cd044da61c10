'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
require('../stub/register.cjs');
const { stateOf, StatusBar, formatStatus } = require('../../out/status.js');
const { stateDir, auditLogPath, STARTER } = require('../../out/policy.js');

const ok = { root: '/w', policyFile: '/w/.sandbox.toml', policyHash: 'h', trusted: true, backend: 'linux-bwrap', capabilities: {}, runs: [] };

test('stateOf: the worst state wins', () => {
  assert.equal(stateOf(undefined, 0), 'stopped');
  assert.equal(stateOf(ok, 0), 'active');
  assert.equal(stateOf({ ...ok, trusted: false }, 0), 'untrusted');
  assert.equal(stateOf({ ...ok, policyFile: '', trusted: false }, 0), 'active');
  assert.equal(stateOf({ ...ok, trusted: false }, 2), 'invalid');
  for (const backend of ['', 'none', 'NONE', 'unavailable', undefined]) {
    assert.equal(stateOf({ ...ok, backend, trusted: false }, 3), 'backend-missing', String(backend));
  }
});

test('status bar shows the state and opens the status', () => {
  const bar = new StatusBar('cordon.showStatus');
  assert.equal(bar.item.command, 'cordon.showStatus');
  bar.show('untrusted');
  assert.match(bar.item.text, /untrusted/);
  assert.ok(bar.item.backgroundColor);
  bar.show('active', 'bwrap + seccomp + Landlock ABI 7');
  assert.equal(bar.item.backgroundColor, undefined);
  assert.match(bar.item.tooltip, /sandbox active: bwrap \+ seccomp \+ Landlock ABI 7/);
  bar.show('backend-missing');
  assert.match(bar.item.tooltip, /doctor/);
  assert.match(formatStatus(ok, 'active'), /backend: +linux-bwrap/);
});

test('state dir follows XDG_STATE_HOME, ignoring a relative one', () => {
  assert.equal(stateDir({ XDG_STATE_HOME: '/s', HOME: '/h' }), '/s/cordon');
  assert.equal(stateDir({ XDG_STATE_HOME: 'rel', HOME: '/h' }), '/h/.local/state/cordon');
  assert.equal(auditLogPath({ HOME: '/h' }), '/h/.local/state/cordon/audit.log');
});

test('the starter policy changes nothing: every rule is commented out', () => {
  for (const line of STARTER.split('\n')) {
    const l = line.trim();
    if (!l || l.startsWith('#')) continue;
    assert.match(l, /^\[(filesystem|network|env|limits)\]$/, `live line in starter: ${l}`);
  }
});
