'use strict';
// A stand-in for the `vscode` module: enough of the API for the extension's
// modules and for the real vscode-languageclient to run under plain Node.
// Tests replace the window.show* functions to play the user.
const path = require('node:path');
const { URL, pathToFileURL, fileURLToPath } = require('node:url');

class Disposable {
  constructor(fn) { this._fn = fn; }
  static from(...ds) { return new Disposable(() => ds.forEach((d) => d && d.dispose && d.dispose())); }
  dispose() { if (this._fn) { const f = this._fn; this._fn = undefined; f(); } }
}

class EventEmitter {
  constructor() {
    this._ls = new Set();
    this.event = (l, thisArg, ds) => {
      const f = thisArg ? l.bind(thisArg) : l;
      this._ls.add(f);
      const d = new Disposable(() => this._ls.delete(f));
      if (Array.isArray(ds)) ds.push(d);
      return d;
    };
  }
  fire(e) { for (const l of [...this._ls]) l(e); }
  dispose() { this._ls.clear(); }
}

const noEvent = () => new Disposable(() => undefined);

class CancellationError extends Error { constructor() { super('Canceled'); this.name = 'Canceled'; } }

class CancellationTokenSource {
  constructor() {
    const em = new EventEmitter();
    this._em = em;
    this.token = { isCancellationRequested: false, onCancellationRequested: em.event };
  }
  cancel() { if (!this.token.isCancellationRequested) { this.token.isCancellationRequested = true; this._em.fire(undefined); } }
  dispose() { this._em.dispose(); }
}

class Uri {
  constructor(scheme, authority, p, query, fragment) {
    this.scheme = scheme; this.authority = authority || ''; this.path = p || ''; this.query = query || ''; this.fragment = fragment || '';
  }
  static file(p) { return new Uri('file', '', path.resolve(p)); }
  static parse(s) {
    const u = new URL(s);
    if (u.protocol === 'file:') return new Uri('file', '', fileURLToPath(u));
    return new Uri(u.protocol.replace(/:$/, ''), u.host, decodeURIComponent(u.pathname), u.search.replace(/^\?/, ''), u.hash.replace(/^#/, ''));
  }
  static joinPath(base, ...ps) { return new Uri(base.scheme, base.authority, path.posix.join(base.path, ...ps)); }
  get fsPath() { return this.path; }
  with(c) { return new Uri(c.scheme ?? this.scheme, c.authority ?? this.authority, c.path ?? this.path, c.query ?? this.query, c.fragment ?? this.fragment); }
  toString() { return this.scheme === 'file' ? pathToFileURL(this.path).href : `${this.scheme}://${this.authority}${this.path}`; }
  toJSON() { return { scheme: this.scheme, path: this.path }; }
}

class Position {
  constructor(line, character) { this.line = line; this.character = character; }
}
class Range {
  constructor(a, b, c, d) {
    if (typeof a === 'number') { this.start = new Position(a, b); this.end = new Position(c, d); } else { this.start = a; this.end = b; }
  }
  get isEmpty() { return this.start.line === this.end.line && this.start.character === this.end.character; }
}
class Selection extends Range {
  constructor(anchor, active) { super(anchor, active); this.anchor = anchor; this.active = active; }
}
class Diagnostic {
  constructor(range, message, severity = 0) { this.range = range; this.message = message; this.severity = severity; }
}
class Location { constructor(uri, range) { this.uri = uri; this.range = range; } }
class DiagnosticRelatedInformation { constructor(location, message) { this.location = location; this.message = message; } }
class TextEdit {
  constructor(range, newText) { this.range = range; this.newText = newText; }
  static replace(r, t) { return new TextEdit(r, t); }
  static insert(p, t) { return new TextEdit(new Range(p, p), t); }
}
class WorkspaceEdit {
  constructor() { this._e = []; }
  replace(uri, range, text) { this._e.push([uri, new TextEdit(range, text)]); }
  insert(uri, pos, text) { this._e.push([uri, TextEdit.insert(pos, text)]); }
  set(uri, edits) { for (const e of edits) this._e.push([uri, e]); }
  entries() { return this._e.map(([u, e]) => [u, [e]]); }
  get size() { return this._e.length; }
}
class CodeAction { constructor(title, kind) { this.title = title; this.kind = kind; } }
class CodeActionKind {
  constructor(value) { this.value = value; }
  append(s) { return new CodeActionKind(this.value ? `${this.value}.${s}` : s); }
  contains(o) { return o.value === this.value || o.value.startsWith(this.value + '.'); }
  intersects(o) { return this.contains(o) || o.contains(this); }
}
CodeActionKind.Empty = new CodeActionKind('');
CodeActionKind.QuickFix = new CodeActionKind('quickfix');
CodeActionKind.Refactor = new CodeActionKind('refactor');
CodeActionKind.Source = new CodeActionKind('source');
class MarkdownString { constructor(value = '') { this.value = value; } appendText(t) { this.value += t; return this; } appendMarkdown(t) { this.value += t; return this; } }
class ThemeColor { constructor(id) { this.id = id; } }
class RelativePattern { constructor(base, pattern) { this.baseUri = typeof base === 'string' ? Uri.file(base) : (base.uri ?? base); this.pattern = pattern; } }

class ThemeIcon { constructor(id) { this.id = id; } }
class TreeItem { constructor(label, collapsibleState) { this.label = label; this.collapsibleState = collapsibleState; } }

class TaskDef {}
class Task {
  constructor(definition, scope, name, source, execution, problemMatchers) {
    Object.assign(this, { definition, scope, name, source, execution, problemMatchers });
  }
}
class CustomExecution { constructor(cb) { this.callback = cb; } }

// DiagnosticCollection keeps what the client publishes so tests can read it.
const allDiagnostics = new Map();
const diagChanged = new EventEmitter();
function createDiagnosticCollection(name) {
  const mine = new Map();
  return {
    name,
    set(uri, diags) {
      if (Array.isArray(uri)) { for (const [u, d] of uri) this.set(u, d); return; }
      const k = uri.toString();
      if (!diags || diags.length === 0) { mine.delete(k); allDiagnostics.delete(k); } else { mine.set(k, [uri, diags]); allDiagnostics.set(k, [uri, diags]); }
      diagChanged.fire({ uris: [uri] });
    },
    delete(uri) { this.set(uri, []); },
    clear() { for (const k of mine.keys()) allDiagnostics.delete(k); mine.clear(); },
    get(uri) { return (mine.get(uri.toString()) || [])[1]; },
    has(uri) { return mine.has(uri.toString()); },
    forEach(cb) { for (const [u, d] of mine.values()) cb(u, d, this); },
    dispose() { this.clear(); },
  };
}

function outputChannel(name) {
  const ch = {
    name, text: '',
    append(s) { ch.text += s; },
    appendLine(s) { ch.text += s + '\n'; },
    replace(s) { ch.text = s; },
    clear() { ch.text = ''; },
    show() {}, hide() {}, dispose() {},
    // The log-channel API the client may use.
    trace(s) { ch.appendLine(s); }, debug(s) { ch.appendLine(s); }, info(s) { ch.appendLine(s); },
    warn(s) { ch.appendLine(s); }, error(s) { ch.appendLine(String(s)); },
    onDidChangeLogLevel: noEvent, logLevel: 2,
  };
  if (process.env.CORDON_STUB_LOG) {
    const orig = ch.append;
    ch.append = (s) => { process.stderr.write(`[${name}] ${s}`); orig(s); };
  }
  return ch;
}


// Plain value classes the client only constructs or extends here.
function plain(name) {
  const C = class { constructor(...args) { this.args = args; } };
  Object.defineProperty(C, 'name', { value: name });
  return C;
}
const plainClasses = {};
for (const n of ['CallHierarchyItem', 'CodeLens', 'CompletionItem', 'DocumentLink', 'InlayHint', 'SymbolInformation',
  'TypeHierarchyItem', 'CallHierarchyIncomingCall', 'CallHierarchyOutgoingCall', 'Color', 'ColorInformation',
  'ColorPresentation', 'CompletionList', 'DocumentHighlight', 'DocumentSymbol', 'FoldingRange', 'Hover',
  'InlayHintLabelPart', 'InlineCompletionItem', 'InlineCompletionList', 'InlineValueEvaluatableExpression',
  'InlineValueText', 'InlineValueVariableLookup', 'LinkedEditingRanges', 'ParameterInformation', 'SelectionRange',
  'SemanticTokens', 'SemanticTokensEdit', 'SemanticTokensEdits', 'SignatureHelp', 'SignatureInformation',
  'SnippetString']) {
  plainClasses[n] = plain(n);
}

const commandRegistry = new Map();
const config = {};

const vscode = {
  ...plainClasses,
  version: '1.82.0',
  Disposable, EventEmitter, CancellationError, CancellationTokenSource, Uri, Position, Range, Selection,
  Diagnostic, Location, DiagnosticRelatedInformation, TextEdit, WorkspaceEdit, CodeAction, CodeActionKind,
  MarkdownString, ThemeColor, RelativePattern, Task, CustomExecution, TaskDef, ThemeIcon, TreeItem,
  TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
  DiagnosticSeverity: { Error: 0, Warning: 1, Information: 2, Hint: 3 },
  DiagnosticTag: { Unnecessary: 1, Deprecated: 2 },
  StatusBarAlignment: { Left: 1, Right: 2 },
  ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
  TaskScope: { Global: 1, Workspace: 2 },
  TextDocumentSaveReason: { Manual: 1, AfterDelay: 2, FocusOut: 3 },
  TabInputText: class {}, TabInputTextDiff: class {}, TabInputCustom: class {},
  env: { appName: 'stub', language: 'en', machineId: 'stub', openExternal: async () => true },
  commands: {
    registerCommand(id, fn) {
      if (commandRegistry.has(id)) throw new Error(`command '${id}' already exists`);
      commandRegistry.set(id, fn);
      return new Disposable(() => commandRegistry.delete(id));
    },
    async executeCommand(id, ...args) {
      const f = commandRegistry.get(id);
      if (!f) throw new Error(`command '${id}' not found`);
      return f(...args);
    },
    registry: commandRegistry,
  },
  window: {
    activeTextEditor: undefined,
    visibleTextEditors: [],
    tabGroups: { all: [], onDidChangeTabs: noEvent },
    onDidChangeActiveTextEditor: noEvent,
    onDidChangeVisibleTextEditors: noEvent,
    createOutputChannel: outputChannel,
    createStatusBarItem() {
      const item = { text: '', tooltip: '', command: undefined, backgroundColor: undefined, show() {}, hide() {}, dispose() {} };
      vscode.window.statusBarItems.push(item);
      return item;
    },
    statusBarItems: [],
    async showErrorMessage(msg) { vscode.window.messages.push(['error', msg]); return undefined; },
    async showWarningMessage(msg) { vscode.window.messages.push(['warning', msg]); return undefined; },
    async showInformationMessage(msg) { vscode.window.messages.push(['info', msg]); return undefined; },
    async showInputBox() { return undefined; },
    async showQuickPick() { return undefined; },
    registerTreeDataProvider(id, p) { vscode.window.treeProviders.set(id, p); return new Disposable(() => vscode.window.treeProviders.delete(id)); },
    treeProviders: new Map(),
    async showTextDocument(doc) { vscode.window.shown.push(doc); return { document: doc }; },
    async withProgress(_opts, task) {
      const cts = new CancellationTokenSource();
      return task({ report() {} }, cts.token);
    },
    messages: [],
    shown: [],
  },
  workspace: {
    workspaceFolders: undefined,
    textDocuments: [],
    name: 'stub',
    getWorkspaceFolder(uri) {
      return (vscode.workspace.workspaceFolders || []).find((f) => uri.fsPath === f.uri.fsPath || uri.fsPath.startsWith(f.uri.fsPath + '/'));
    },
    getConfiguration(section) {
      return {
        get(key, def) { const k = section ? `${section}.${key}` : key; return k in config ? config[k] : def; },
        has(key) { return (section ? `${section}.${key}` : key) in config; },
        update: async () => undefined,
      };
    },
    async openTextDocument(uri) {
      const p = vscode.workspace.contentProviders.get(uri.scheme);
      if (p) {
        const text = await p.provideTextDocumentContent(uri);
        return { uri, getText: () => text, languageId: 'plaintext', version: 1, isReadonly: true };
      }
      const fs = require('node:fs');
      const text = fs.readFileSync(uri.fsPath, 'utf8');
      return { uri, getText: () => text, languageId: 'toml', version: 1 };
    },
    registerTextDocumentContentProvider(scheme, p) {
      vscode.workspace.contentProviders.set(scheme, p);
      return new Disposable(() => vscode.workspace.contentProviders.delete(scheme));
    },
    contentProviders: new Map(),
    isTrusted: true,
    onDidGrantWorkspaceTrust: noEvent,
    async applyEdit() { return true; },
    createFileSystemWatcher() {
      return { onDidCreate: noEvent, onDidChange: noEvent, onDidDelete: noEvent, dispose() {} };
    },
    onDidChangeConfiguration: noEvent,
    onDidChangeTextDocument: noEvent,
    onDidChangeWorkspaceFolders: noEvent,
    onDidCloseTextDocument: noEvent,
    onDidOpenTextDocument: noEvent,
    onDidSaveTextDocument: noEvent,
    onWillSaveTextDocument: noEvent,
    onDidCreateFiles: noEvent, onDidRenameFiles: noEvent, onDidDeleteFiles: noEvent,
    onWillCreateFiles: noEvent, onWillRenameFiles: noEvent, onWillDeleteFiles: noEvent,
    config,
  },
  languages: {
    createDiagnosticCollection,
    getDiagnostics(uri) {
      if (uri) return (allDiagnostics.get(uri.toString()) || [])[1] || [];
      return [...allDiagnostics.values()];
    },
    onDidChangeDiagnostics: diagChanged.event,
    match(selector, doc) {
      const sels = Array.isArray(selector) ? selector : [selector];
      return sels.some((s) => (typeof s === 'string' ? s === doc.languageId : (!s.scheme || s.scheme === doc.uri.scheme))) ? 10 : 0;
    },
  },
  tasks: {
    registerTaskProvider() { return new Disposable(() => undefined); },
  },
};

// Every other languages.registerXProvider is accepted and ignored.
vscode.languages = new Proxy(vscode.languages, {
  get(t, k) {
    if (k in t) return t[k];
    if (typeof k === 'string' && k.startsWith('register')) return () => new Disposable(() => undefined);
    return undefined;
  },
});

module.exports = vscode;
