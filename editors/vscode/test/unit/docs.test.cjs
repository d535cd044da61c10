'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vscode = require('../stub/register.cjs');
const { parseAudit, auditTable, AuditProvider, auditUri, ExplainProvider, explainUri } = require('../../out/docs.js');

const log = [
  { time: '2026-12-01T10:00:00.123Z', run: 'run-1', command: 'curl a', host: 'a.test', port: 443, decision: 'allow', reason: 'rule', rule: '/w/.sandbox.toml:3' },
  { time: '2026-12-01T10:00:01.000Z', run: 'run-2', command: 'curl b', host: 'b.test', port: 80, decision: 'deny', asked: true, answer: 'deny', reason: 'approval' },
].map((e) => JSON.stringify(e)).join('\n') + '\n{"cut mid-wri';

test('the audit log reads as a table, newest first, a cut line skipped', () => {
  const es = parseAudit(log);
  assert.equal(es.length, 2);
  const t = auditTable(es).split('\n');
  assert.match(t[0], /2 decision\(s\)/);
  assert.match(t[2], /^time +run +host +decision +why +rule +command$/);
  assert.match(t[4], /^2026-12-01 10:00:01Z +run-2 +b\.test:80 +deny +asked: deny/);
  assert.match(t[5], /a\.test:443 +allow +rule +\/w\/\.sandbox\.toml:3 +curl a$/);
});

test('filtered by run or host', () => {
  const es = parseAudit(log);
  assert.match(auditTable(es, { host: 'a.test' }), /host a\.test · 1 decision/);
  assert.doesNotMatch(auditTable(es, { run: 'run-2' }), /a\.test/);
});

test('the providers serve read-only documents from their URIs', async (t) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cordon-audit-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  const file = path.join(d, 'audit.log');
  const p = new AuditProvider(() => file);
  assert.match(await p.provideTextDocumentContent(auditUri()), /no audit log yet/);
  fs.writeFileSync(file, log);
  assert.match(await p.provideTextDocumentContent(auditUri({ run: 'run-1' })), /run run-1 · 1 decision/);
  const roots = [];
  const e = new ExplainProvider(async (root) => { roots.push(root); return 'explained'; });
  assert.equal(await e.provideTextDocumentContent(explainUri('/w s')), 'explained');
  assert.deepEqual(roots, ['/w s']);
  assert.equal(explainUri().scheme, 'cordon-explain');
  void vscode;
});
