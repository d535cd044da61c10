'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
require('../stub/register.cjs');
const { RunRegistry, describeViolation, describeExit } = require('../../out/runs.js');

function sink() {
  const s = { out: '', err: '' };
  s.output = (stream, d) => { s[stream === 'stderr' ? 'err' : 'out'] += d; };
  return s;
}

test('output goes to the run it belongs to, runs claimed in start order', () => {
  const reg = new RunRegistry();
  const a = sink(), b = sink();
  const ra = reg.begin(a), rb = reg.begin(b);
  assert.ok(reg.output({ runId: 'r1', stream: 'stdout', data: 'a1 ' }));
  assert.ok(reg.output({ runId: 'r2', stream: 'stderr', data: 'b1 ' }));
  assert.ok(reg.output({ runId: 'r1', stream: 'stderr', data: 'a2 ' }));
  assert.ok(reg.output({ runId: 'r2', stream: 'stdout', data: 'b2 ' }));
  assert.deepEqual([a.out, a.err, b.out, b.err], ['a1 ', 'a2 ', 'b2 ', 'b1 ']);
  ra.end('r1');
  assert.equal(reg.output({ runId: 'r1', stream: 'stdout', data: 'late' }), false);
  assert.equal(a.out, 'a1 ');
  rb.end('r2');
  assert.equal(reg.size, 0);
});

test('output with no run waiting is dropped, malformed output ignored', () => {
  const reg = new RunRegistry();
  assert.equal(reg.output({ runId: 'x', stream: 'stdout', data: 'y' }), false);
  const s = sink();
  reg.begin(s);
  assert.equal(reg.output(null), false);
  assert.equal(reg.output({ runId: 1, stream: 'stdout', data: 'x' }), false);
  assert.equal(reg.output({ runId: 'r', stream: 'stdout', data: { evil: 1 } }), false);
  assert.equal(s.out, '');
  // An unknown stream name is treated as stdout, never lost.
  assert.ok(reg.output({ runId: 'r', stream: 'bogus', data: 'z' }));
  assert.equal(s.out, 'z');
});

test('violations and exits render like the CLI', () => {
  assert.equal(
    describeViolation({ runId: 'r', command: 'x', kind: 'write', target: '/etc/passwd', time: '' }),
    'cordon: blocked write /etc/passwd (default)',
  );
  assert.equal(
    describeViolation({ runId: 'r', command: 'x', kind: 'net', target: 'evil.com:443', rule: { file: '/w/.sandbox.toml', line: 7 }, time: '' }),
    'cordon: blocked net evil.com:443 (/w/.sandbox.toml:7)',
  );
  assert.equal(describeExit(3), '[cordon] exit code 3');
  assert.equal(describeExit(137, 9), '[cordon] killed by signal 9 (exit 137)');
  assert.equal(describeExit(0, ''), '[cordon] exit code 0');
});
