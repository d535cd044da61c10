//go:build linux

package linux

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
)

// TestAttackRenameParent: a read-only bind moves with its directory, so
// renaming the parent of a denied or protected path and recreating it
// would put a writable path where the rule was. Every directory between
// the workspace root and such a path is pinned.
func TestAttackRenameParent(t *testing.T) {
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		e := newLaunchEnv(t, u)
		files := map[string]string{
			"config/prod.env":           "orig-env",
			"keys/sub/a.pem":            "orig-pem",
			"src/.vscode/settings.json": "{}",
			"deep/a/b/.git/hooks/x":     "orig-hook",
		}
		for name, content := range files {
			p := filepath.Join(e.ws, name)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(content), 0o644)
		}
		e.policy("[filesystem]\ndeny_write = [\"config/prod.env\", \"keys/**/*.pem\"]\n")
		out := e.run("sh", "-c", `mv config config2 && mkdir config && echo EVIL > config/prod.env
mv keys/sub keys/sub2 && mkdir keys/sub && echo EVIL > keys/sub/a.pem
mv keys keys3 && mkdir -p keys/sub && echo EVIL > keys/sub/a.pem
mv src src2 && mkdir -p src/.vscode && echo EVIL > src/.vscode/settings.json
mv deep/a deep/a2 && mkdir -p deep/a/b/.git/hooks && echo EVIL > deep/a/b/.git/hooks/x
mkdir other && mv other other2 && echo rename-elsewhere-ok`)
		for name, content := range files {
			b, _ := os.ReadFile(filepath.Join(e.ws, name))
			if string(b) != content {
				t.Errorf("%s holds %q on the host after renaming a parent:\n%s", name, b, out)
			}
		}
		for _, moved := range []string{"config2", "keys/sub2", "keys3", "src2", "deep/a2"} {
			if _, err := os.Lstat(filepath.Join(e.ws, moved)); err == nil {
				t.Errorf("%s exists: a parent of a guarded path was renamed", moved)
			}
		}
		if !strings.Contains(out, "rename-elsewhere-ok") {
			t.Errorf("renaming an unrelated directory failed:\n%s", out)
		}
	})
}
