package workspace

import (
	"os"
	"path/filepath"
	"strings"
)

// Starter is the commented starter policy `cordon init` writes when it
// knows nothing of the workspace.
func Starter() []byte { return starter(nil) }

// A toolchain the starter policy recognises by a file at the workspace
// root, and the hosts its package manager fetches from.
type toolchain struct {
	name  string
	files []string
	hosts []string
}

// toolchains is the one list of registries the starter suggests.
var toolchains = []toolchain{
	{"npm", []string{"package.json"}, []string{"registry.npmjs.org:443"}},
	{"Go", []string{"go.mod"}, []string{"proxy.golang.org:443", "sum.golang.org:443"}},
	{"Python", []string{"requirements.txt", "pyproject.toml"}, []string{"pypi.org:443", "files.pythonhosted.org:443"}},
	{"Rust", []string{"Cargo.toml"}, []string{"index.crates.io:443", "static.crates.io:443"}},
}

// StarterFor is the starter policy for the workspace at root: it also
// suggests, commented out, the registries of the toolchains whose files
// it finds there or one directory down (package.json: the npm registry; go.mod: the Go module
// proxy and checksum database; requirements.txt or pyproject.toml: the
// Python package index; Cargo.toml: the crates registry). Allowing a host
// widens the user's defaults, so it stays the user's choice (uncomment,
// then cordon trust).
func StarterFor(root string) []byte {
	// The root and the directories right below it (a repository holding
	// web/ and svc/ side by side).
	dirs := []string{root}
	if ents, err := os.ReadDir(root); err == nil {
		for _, e := range ents {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") && e.Name() != "node_modules" && e.Name() != "vendor" {
				dirs = append(dirs, filepath.Join(root, e.Name()))
			}
		}
	}
	var found []toolchain
	for _, tc := range toolchains {
	search:
		for _, d := range dirs {
			for _, f := range tc.files {
				if fi, err := os.Lstat(filepath.Join(d, f)); err == nil && fi.Mode().IsRegular() {
					found = append(found, tc)
					break search
				}
			}
		}
	}
	return starter(found)
}

func starter(found []toolchain) []byte {
	var suggest strings.Builder
	if len(found) > 0 {
		var names, hosts []string
		for _, tc := range found {
			names = append(names, tc.name)
			for _, h := range tc.hosts {
				hosts = append(hosts, `"`+h+`"`)
			}
		}
		suggest.WriteString("# The registries of the toolchains found here (" + strings.Join(names, ", ") + "):\n")
		suggest.WriteString("# uncomment to fetch packages without a prompt, then run cordon trust.\n")
		suggest.WriteString("# allow   = [" + strings.Join(hosts, ", ") + "]\n")
	} else {
		suggest.WriteString(`# allow   = ["github.com", "*.npmjs.org", "proxy.golang.org:443", "localhost:5173"]` + "\n")
	}
	return []byte(`# cordon sandbox policy for this workspace.
# Every command cordon runs here gets: this workspace and a private temp dir
# writable, the rest of the machine read-only, your credentials (~/.ssh,
# ~/.aws, ...) unreadable, and no network except the hosts allowed below.
# Rules that widen your defaults (~/.config/cordon/sandbox.toml) apply only
# after you approve this file's content: cordon trust.
# Check it with: cordon check    See the result with: cordon explain

[filesystem]
# allow_write = ["~/.cache/go-build"]   # writable besides the workspace
# deny_write  = [".env", "*.pem"]       # read-only even inside the workspace
# deny_read   = ["secrets/**"]          # unreadable
# allow_read  = ["~/.aws/config"]       # readable again inside a deny_read

[network]
` + suggest.String() + `# deny    = ["telemetry.example.com"]  # wins over allow
# unknown = "ask"                      # "ask" (in an editor or terminal) or "deny"

[env]
# pass = ["NPM_TOKEN"]                 # let these secret-looking variables through
# set  = { CI = "1" }

[limits]
# timeout   = "15m"
# memory    = "8GiB"
# processes = 1024
`)
}
