package workspace

// Starter is the commented policy `cordon init` writes. Every rule in it
// is commented out: the starter changes nothing until the user decides.
func Starter() []byte {
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
# allow   = ["github.com", "*.npmjs.org", "proxy.golang.org:443", "localhost:5173"]
# deny    = ["telemetry.example.com"]  # wins over allow
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
