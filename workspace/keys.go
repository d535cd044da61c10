package workspace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

//go:generate go run ./internal/genkeys -schema ../editors/vscode/schemas/sandbox.schema.json -readme ../README.md

// Table is one table of .sandbox.toml with its keys.
type Table struct {
	Name string
	Doc  string
	Keys []Key
}

// Key is one key of .sandbox.toml, documented once. The parser's schema,
// the editors' completion and hover (through `cordon lsp`), the JSON
// Schema and the README's key reference all come from Tables, and a test
// checks the generated files agree with it.
type Key struct {
	Name string
	kind valueKind
	// Values are the only values a string key takes, in order.
	Values []string
	// Value names the value's form for people: "paths", "hosts", "duration"...
	Value string
	Doc   string
	// Example is a value as written after "name = ".
	Example string
	// schema is the JSON Schema of the value.
	schema map[string]any
}

// Tables lists every table and key a policy file may hold, in the order
// the documentation gives them. Each call returns a fresh copy.
func Tables() []Table {
	ref := func(def string) map[string]any { return map[string]any{"$ref": "#/definitions/" + def} }
	strs := func(items map[string]any) map[string]any { return map[string]any{"type": "array", "items": items} }
	return []Table{
		{Name: "filesystem", Doc: "What commands may write and read. The workspace root and a private temp dir are writable, the rest of the machine read-only, the credential set unreadable.", Keys: []Key{
			{Name: "allow_write", kind: kindStrings, Value: "paths", schema: ref("paths"),
				Doc:     "Writable besides the workspace root and the private temp dir. A place outside the workspace is a widening: it applies once you trust the file.",
				Example: `["~/.cache/go-build", "../shared"]`},
			{Name: "deny_write", kind: kindStrings, Value: "paths", schema: ref("paths"),
				Doc:     "Read-only inside writable places; they may not exist yet (a new one cannot be created either).",
				Example: `[".env", "secrets/**", "*.pem"]`},
			{Name: "deny_read", kind: kindStrings, Value: "paths", schema: ref("paths"),
				Doc:     "Unreadable (and unwritable).",
				Example: `["~/.aws", "secrets/**"]`},
			{Name: "allow_read", kind: kindStrings, Value: "paths", schema: ref("paths"),
				Doc:     "Readable again inside a deny_read. Inside the credential set it is a widening.",
				Example: `["~/.aws/config"]`},
			{Name: "cache", kind: kindStrings, Value: "directory paths", schema: strs(ref("path")),
				Doc:     "Directories writable copy-on-write: reads see the host's, writes land in this workspace's own layer in cordon's state directory and never reach the host (no widening; cordon cache clean drops the layers). The usual toolchain caches (~/.npm, ~/.cache, ~/go/pkg, ~/.cargo/registry and git, ~/.m2/repository, ~/.gradle/caches, ~/.bun/install/cache, ~/.config/go) are in this list by default. No globs.",
				Example: `["~/.local/share/mytool"]`},
		}},
		{Name: "network", Doc: "Commands have no network of their own: every connection goes through cordon's proxy, which allows, denies or asks per host and port.", Keys: []Key{
			{Name: "allow", kind: kindStrings, Value: "hosts", schema: ref("hosts"),
				Doc:     "Hosts the sandbox may reach through the proxy (a widening). Loopback and private addresses open only for a rule that names them with a port.",
				Example: `["github.com", "*.npmjs.org", "api.example.com:443", "localhost:5173"]`},
			{Name: "deny", kind: kindStrings, Value: "hosts", schema: ref("hosts"),
				Doc:     "Hosts never reachable; wins over allow.",
				Example: `["telemetry.example.com"]`},
			{Name: "unknown", kind: kindString, Values: []string{"ask", "deny"}, Value: `"ask" or "deny"`,
				schema:  map[string]any{"type": "string", "enum": []string{"ask", "deny"}},
				Doc:     `What happens to a host no rule names: "ask" the user (in an editor or on a terminal; denied elsewhere) or "deny".`,
				Example: `"ask"`},
			{Name: "allow_unix_sockets", kind: kindStrings, Value: "socket paths", schema: strs(ref("path")),
				Doc:     "Exactly these unix sockets, connected by cordon (a widening); no globs.",
				Example: `["/run/user/1000/ssh-agent.sock"]`},
			{Name: "publish", kind: kindStrings, Value: "ports",
				schema:  strs(map[string]any{"type": "string", "pattern": `^[0-9]{1,5}$`}),
				Doc:     "Ports a sandboxed server listens on (127.0.0.1 or ::1 inside) made reachable from the host's localhost:PORT while the run lives, so your browser can open the agent's dev server (a widening: it exposes a port on the host). cordon listens on the host's loopback only and skips a port already taken there.",
				Example: `["5173"]`},
		}},
		{Name: "git", Doc: "git through cordon: the credential stays on the host. Every entry is a widening (it applies once you trust the file).", Keys: []Key{
			{Name: "remotes", kind: kindStrings, Value: "remote URLs",
				schema:  strs(map[string]any{"type": "string", "minLength": 1, "pattern": `^[^\u0000-\u0020\u007f]+$`}),
				Doc:     "Remotes reachable through cordon, as git spells them (https://host/org/repo.git, ssh://git@host/org/repo.git, git@host:org/repo.git); cordon attaches the host's credential (git credential fill, or your ssh agent) and the sandbox never sees it.",
				Example: `["https://github.com/acme/app.git", "git@github.com:acme/app.git"]`},
			{Name: "push", kind: kindStrings, Value: "ref patterns",
				schema:  strs(map[string]any{"type": "string", "minLength": 1, "pattern": `^[^\u0000-\u0020\u007f~^:\\]+$`}),
				Doc:     `Ref patterns a push may update: a branch pattern ("agent/*" is refs/heads/agent/*) or a full ref ("refs/tags/v*"); none by default. * stays within one segment, ** crosses segments.`,
				Example: `["agent/*"]`},
			{Name: "allow_force", kind: kindBool, Value: "true or false", schema: map[string]any{"type": "boolean"},
				Doc:     "Allow non-fast-forward updates of the refs push allows (default false).",
				Example: `false`},
			{Name: "allow_delete", kind: kindBool, Value: "true or false", schema: map[string]any{"type": "boolean"},
				Doc:     "Allow deleting the refs push allows (default false).",
				Example: `false`},
		}},
		{Name: "env", Doc: "The environment commands get: secret-looking variables (*_TOKEN, *_SECRET, *_PASSWORD, *_KEY, *_CREDENTIALS, AWS_*, GH_*, SSH_AUTH_SOCK, ...) are removed unless passed.", Keys: []Key{
			{Name: "pass", kind: kindStrings, Value: "variable names", schema: strs(ref("envName")),
				Doc:     "Let these secret-looking variables through (a widening).",
				Example: `["NPM_TOKEN"]`},
			{Name: "set", kind: kindStringMap, Value: "a table of strings",
				schema: map[string]any{"type": "object", "propertyNames": ref("envName"), "additionalProperties": map[string]any{"type": "string"}},
				Doc:    "Variables to set inside the sandbox (a widening: it changes what runs).", Example: `{ CI = "1" }`},
		}},
		{Name: "limits", Doc: "Bounds on each run; the narrower of your defaults and the workspace file applies.", Keys: []Key{
			{Name: "timeout", kind: kindString, Value: "duration",
				schema:  map[string]any{"type": "string", "pattern": `^([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))*$`},
				Doc:     `A positive duration like "15m" or "90s": the run is killed after it.`,
				Example: `"15m"`},
			{Name: "memory", kind: kindSize, Value: "size",
				schema: map[string]any{"oneOf": []any{
					map[string]any{"type": "string", "pattern": `^\s*[0-9]+(\.[0-9]+)?\s*([KMGT]i?B?|B)?\s*$`},
					map[string]any{"type": "integer", "minimum": 1},
				}},
				Doc:     `A size like "8GiB" or "512MB", or a number of bytes: the address space of each process.`,
				Example: `"8GiB"`},
			{Name: "processes", kind: kindInt, Value: "integer",
				schema:  map[string]any{"type": "integer", "minimum": 1, "maximum": 1 << 22},
				Doc:     "How many processes a run may have at once.",
				Example: `1024`},
		}},
	}
}

// LookupKey finds table.key; ok is false when the policy file may not
// hold it.
func LookupKey(table, key string) (Key, bool) {
	for _, t := range Tables() {
		if t.Name != table {
			continue
		}
		for _, k := range t.Keys {
			if k.Name == key {
				return k, true
			}
		}
	}
	return Key{}, false
}

// LookupTable finds a table by name.
func LookupTable(name string) (Table, bool) {
	for _, t := range Tables() {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// IsArray reports whether the key takes a list.
func (k Key) IsArray() bool { return k.kind == kindStrings }

// IsTable reports whether the key takes an inline table.
func (k Key) IsTable() bool { return k.kind == kindStringMap }

// Markdown is the key's hover text.
func (k Key) Markdown(table string) string {
	return fmt.Sprintf("**%s.%s** (%s)\n\n%s\n\n```toml\n[%s]\n%s = %s\n```", table, k.Name, k.Value, k.Doc, table, k.Name, k.Example)
}

// Markdown is the table's hover text.
func (t Table) Markdown() string {
	names := make([]string, len(t.Keys))
	for i, k := range t.Keys {
		names[i] = "`" + k.Name + "`"
	}
	return fmt.Sprintf("**[%s]**\n\n%s\n\nKeys: %s", t.Name, t.Doc, strings.Join(names, ", "))
}

// keyKinds is the parser's schema: every key by table, with its kind.
func keyKinds() map[string]map[string]valueKind {
	out := map[string]map[string]valueKind{}
	for _, t := range Tables() {
		out[t.Name] = map[string]valueKind{}
		for _, k := range t.Keys {
			out[t.Name][k.Name] = k.kind
		}
	}
	return out
}

// tableList is "filesystem, network, ..." for error messages.
func tableList() string {
	var names []string
	for _, t := range Tables() {
		names = append(names, t.Name)
	}
	return strings.Join(names, ", ")
}

// JSONSchema is the JSON Schema of .sandbox.toml (for TOML extensions in
// editors), generated from Tables.
func JSONSchema() ([]byte, error) {
	props := map[string]any{}
	for _, t := range Tables() {
		keys := map[string]any{}
		for _, k := range t.Keys {
			v := map[string]any{"description": k.Doc}
			for name, x := range k.schema {
				v[name] = x
			}
			keys[k.Name] = v
		}
		props[t.Name] = map[string]any{"type": "object", "additionalProperties": false, "description": t.Doc, "properties": keys}
	}
	doc := map[string]any{
		"$schema":              "http://json-schema.org/draft-07/schema#",
		"$id":                  "https://github.com/cordon-dev/cordon/editors/vscode/schemas/sandbox.schema.json",
		"title":                "cordon .sandbox.toml",
		"description":          "The per-workspace cordon sandbox policy. Every key is optional; unknown keys are errors. Generated from workspace/keys.go (go generate ./workspace).",
		"type":                 "object",
		"additionalProperties": false,
		"definitions": map[string]any{
			"path": map[string]any{"type": "string", "minLength": 1, "pattern": `^[^\u0000]+$`,
				"description": "Relative to the workspace root; ~ is your home; globs *, ?, [...] within one segment and ** across segments; a trailing /** means the directory and everything below it."},
			"paths": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/definitions/path"}},
			"host": map[string]any{"type": "string", "minLength": 1, "pattern": `^[^\u0000-\u001f\u007f\s]+$`,
				"description": "name, *.suffix (subdomains at any depth, not the suffix itself), optional :port (no port = any port); IPv6 in brackets."},
			"hosts":   map[string]any{"type": "array", "items": map[string]any{"$ref": "#/definitions/host"}},
			"envName": map[string]any{"type": "string", "pattern": `^[A-Za-z_][A-Za-z0-9_]*$`},
		},
		"properties": props,
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("json schema: %w", err)
	}
	return b.Bytes(), nil
}

// Markers delimit the generated key reference in the README.
const (
	ReferenceBegin = "<!-- keys:begin (generated from workspace/keys.go: go generate ./workspace) -->"
	ReferenceEnd   = "<!-- keys:end -->"
)

// Reference is the README's key reference, in Markdown, between the markers.
func Reference() string {
	var b strings.Builder
	b.WriteString(ReferenceBegin + "\n")
	for _, t := range Tables() {
		fmt.Fprintf(&b, "\n**`[%s]`**: %s\n\n| key | value | meaning | example |\n|---|---|---|---|\n", t.Name, t.Doc)
		for _, k := range t.Keys {
			fmt.Fprintf(&b, "| `%s` | %s | %s | `%s` |\n", k.Name, k.Value, strings.ReplaceAll(k.Doc, "|", `\|`), strings.ReplaceAll(k.Example, "|", `\|`))
		}
	}
	b.WriteString("\n" + ReferenceEnd)
	return b.String()
}

// SpliceReference returns readme with its key reference replaced by
// Reference(); an error when the markers are missing.
func SpliceReference(readme string) (string, error) {
	i := strings.Index(readme, ReferenceBegin)
	j := strings.Index(readme, ReferenceEnd)
	if i < 0 || j < i {
		return "", fmt.Errorf("the README has no %q … %q block", ReferenceBegin, ReferenceEnd)
	}
	return readme[:i] + Reference() + readme[j+len(ReferenceEnd):], nil
}
