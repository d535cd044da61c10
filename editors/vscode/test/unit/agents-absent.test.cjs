'use strict';
// On a VS Code older than the language-model and MCP APIs (the engine is
// 1.82), the agent features are absent and activation does not fail.
const test = require('node:test');
const assert = require('node:assert/strict');
require('../stub/register.cjs');
const lmtool = require('../../out/lmtool.js');
const mcp = require('../../out/mcp.js');
const terminal = require('../../out/terminal.js');

test('without the newer APIs nothing is registered and nothing throws', () => {
  assert.deepEqual(lmtool.registerTool({ client() { throw new Error('unused'); } }), []);
  assert.deepEqual(mcp.registerMcpProvider({ binary: () => '/x', version: () => '0' }), []);
  assert.deepEqual(terminal.registerTerminalProfile({ binary: () => '/x' }), []);
});
