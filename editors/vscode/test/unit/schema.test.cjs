'use strict';
// The schema (generated from workspace/keys.go) must say exactly what
// DESIGN.md's .sandbox.toml contract says:
// the same tables and keys, nothing open, and patterns that accept the
// documented forms and refuse the rest.
const test = require('node:test');
const assert = require('node:assert/strict');
const schema = require('../../schemas/sandbox.schema.json');

const contract = {
  filesystem: ['allow_write', 'deny_write', 'deny_read', 'allow_read', 'cache'],
  network: ['allow', 'deny', 'unknown', 'allow_unix_sockets', 'publish'],
  git: ['remotes', 'push', 'allow_force', 'allow_delete'],
  env: ['pass', 'set'],
  limits: ['timeout', 'memory', 'processes'],
};

test('tables and keys match the contract, closed everywhere', () => {
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(Object.keys(schema.properties).sort(), Object.keys(contract).sort());
  for (const [table, keys] of Object.entries(contract)) {
    const t = schema.properties[table];
    assert.equal(t.type, 'object', table);
    assert.equal(t.additionalProperties, false, table);
    assert.deepEqual(Object.keys(t.properties).sort(), [...keys].sort(), table);
  }
  assert.deepEqual(schema.properties.network.properties.unknown.enum, ['ask', 'deny']);
  assert.deepEqual(schema.properties.env.properties.set.additionalProperties, { type: 'string' });
  assert.equal(schema.properties.limits.properties.processes.type, 'integer');
});

const re = (p) => new RegExp(p, 'u');

test('duration pattern: Go durations only', () => {
  const p = re(schema.properties.limits.properties.timeout.pattern);
  for (const ok of ['15m', '90s', '1h30m', '1.5h', '500ms', '2h45m30s']) assert.ok(p.test(ok), ok);
  for (const bad of ['', '15', 'm', '15 m', '15min', '-5m', '1d', 'forever']) assert.ok(!p.test(bad), bad);
});

test('size pattern: "8GiB", "512MB", "1.5G", bytes', () => {
  const p = re(schema.properties.limits.properties.memory.oneOf[0].pattern);
  for (const ok of ['8GiB', '512MB', '1.5G', '1024', '64KiB', '2T', '10B']) assert.ok(p.test(ok), ok);
  for (const bad of ['', 'GiB', '8 gigs', '8gib', '-1G', '8PiB', '8GiBs']) assert.ok(!p.test(bad), bad);
});

test('host pattern refuses control characters and spaces', () => {
  const p = re(schema.definitions.host.pattern);
  for (const ok of ['github.com', '*.npmjs.org', 'registry.npmjs.org:443', 'localhost:5173', '[::1]:8080']) assert.ok(p.test(ok), ok);
  for (const bad of ['evil.com\u0000.example.com', 'a b', 'x\n', '']) assert.ok(!p.test(bad), JSON.stringify(bad));
});

test('env names', () => {
  const p = re(schema.definitions.envName.pattern);
  assert.ok(p.test('NPM_TOKEN'));
  for (const bad of ['1X', 'A-B', 'A=B', '']) assert.ok(!p.test(bad), bad);
});
