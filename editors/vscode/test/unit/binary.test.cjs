'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
require('../stub/register.cjs');
const { resolveBinary, MissingBinaryError } = require('../../out/binary.js');

function tmp(t) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cordon-bin-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

test('a bare name is found on PATH, skipping non-executables and directories', (t) => {
  const d = tmp(t);
  const a = path.join(d, 'a'), b = path.join(d, 'b');
  fs.mkdirSync(a); fs.mkdirSync(b);
  fs.writeFileSync(path.join(a, 'cordon'), '#!/bin/sh\n', { mode: 0o644 }); // not executable
  fs.mkdirSync(path.join(a, 'other'));
  fs.writeFileSync(path.join(b, 'cordon'), '#!/bin/sh\n', { mode: 0o755 });
  assert.equal(resolveBinary('cordon', { PATH: `${a}:${b}` }), path.join(b, 'cordon'));
  assert.equal(resolveBinary('', { PATH: `${a}:${b}` }), path.join(b, 'cordon'));
  assert.equal(resolveBinary(undefined, { PATH: `${a}:${b}` }), path.join(b, 'cordon'));
  assert.throws(() => resolveBinary('other', { PATH: a }), MissingBinaryError);
});

test('missing binary: a clear error that says how to install', () => {
  assert.throws(() => resolveBinary('cordon', { PATH: '/nonexistent' }), (err) => {
    assert.ok(err instanceof MissingBinaryError);
    assert.match(err.message, /"cordon" was not found/);
    assert.match(err.message, /go install github\.com\/cordon-dev\/cordon\/cmd\/cordon@latest/);
    assert.match(err.message, /cordon\.path/);
    return true;
  });
});

test('paths: absolute, ~/ and relative to the workspace', (t) => {
  const d = tmp(t);
  fs.mkdirSync(path.join(d, 'bin'));
  const p = path.join(d, 'bin', 'cordon');
  fs.writeFileSync(p, '#!/bin/sh\n', { mode: 0o755 });
  assert.equal(resolveBinary(p, {}), p);
  assert.equal(resolveBinary('~/bin/cordon', { HOME: d }), p);
  assert.equal(resolveBinary('./bin/cordon', {}, d), p);
  assert.throws(() => resolveBinary(path.join(d, 'bin'), {}), MissingBinaryError);
  assert.throws(() => resolveBinary('./nope', {}, d), MissingBinaryError);
});
