'use strict';
// Makes require('vscode') load the stand-in, for our modules and for
// vscode-languageclient alike.
const Module = require('node:module');
const path = require('node:path');

const stub = path.join(__dirname, 'vscode.cjs');
const orig = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'vscode') return stub;
  return orig.call(this, request, ...rest);
};
module.exports = require(stub);
