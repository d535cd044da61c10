'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const vscode = require('../stub/register.cjs');
const { RunHistory, RunsView, recordOf, summary } = require('../../out/history.js');

const v = (target, rule) => ({ runId: 'run-1', command: 'x', kind: 'net', target, rule, time: '' });

test('the history keeps the last N runs, newest first', () => {
  const h = new RunHistory(2);
  let fired = 0;
  h.onDidChange(() => fired++);
  for (const c of ['one', 'two', 'three']) h.add(recordOf(c, Date.now() - 5, { runId: c, exitCode: 0, violations: [] }));
  assert.deepEqual(h.runs.map((r) => r.command), ['three', 'two']);
  assert.equal(fired, 3);
  h.clear();
  assert.equal(h.runs.length, 0);
});

test('summaries say exit, duration, blocked; cancel and failure too', () => {
  const r = recordOf('make', Date.now(), { runId: 'r', exitCode: 2, violations: [v('a:1'), v('b:2')] });
  assert.match(summary(r), /^exit 2 · \d+ ms · 2 blocked$/);
  assert.match(summary(recordOf('x', Date.now(), undefined, new Error('boom'))), /^failed/);
  assert.match(summary(recordOf('x', Date.now(), undefined, new Error('Canceled'), true)), /^cancelled/);
});

test('the tree shows runs and, under them, what they had blocked, opening the rule', () => {
  const h = new RunHistory();
  h.add(recordOf('curl', Date.now(), { runId: 'r1', exitCode: 7, violations: [v('evil.test:80', { file: '/w/.sandbox.toml', line: 4 })] }));
  h.add(recordOf('true', Date.now(), { runId: 'r2', exitCode: 0, violations: [] }));
  const view = new RunsView(h);
  const top = view.getChildren();
  assert.deepEqual(top.map((n) => view.getTreeItem(n).label), ['true', 'curl']);
  assert.equal(view.getTreeItem(top[0]).collapsibleState, vscode.TreeItemCollapsibleState.None);
  assert.equal(view.getTreeItem(top[1]).iconPath.id, 'error');
  const kids = view.getChildren(top[1]);
  const item = view.getTreeItem(kids[0]);
  assert.equal(item.label, 'blocked net evil.test:80 (/w/.sandbox.toml:4)');
  assert.equal(item.command.arguments[0].fsPath, '/w/.sandbox.toml');
  assert.equal(item.command.arguments[1].selection.start.line, 3);
});
