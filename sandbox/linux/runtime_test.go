//go:build linux

package linux

import (
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
)

// TestRuntimeDirHidden: cordon's runtime directory holds every
// workspace's private temp dir (and, from older cordons, placeholder
// locks). A run sees its own temp dir (kept across its workspace's runs)
// and nothing else there: no other workspace's temp files, no lock it
// could hold to stall another cordon's start-up.
func TestRuntimeDirHidden(t *testing.T) {
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		a, b := newLaunchEnv(t, u), newLaunchEnv(t, u)
		out := a.run("sh", "-c", `echo secret-of-a > "$TMPDIR/a.txt" && echo "tmp=$TMPDIR"`)
		i := strings.Index(out, "tmp=")
		if i < 0 {
			t.Fatalf("run in a: %s", out)
		}
		tmpA := strings.TrimSpace(out[i+4:])
		if out := a.run("cat", tmpA+"/a.txt"); !strings.Contains(out, "secret-of-a") {
			t.Fatalf("a's own temp dir lost between its runs: %q", out)
		}
		rt := tmpA[:strings.LastIndex(tmpA, "/")]
		out = b.run("sh", "-c", `cat "$1/a.txt"; ls -a "$2" "$2/placeholders"; ls "$TMPDIR" >/dev/null && echo own-tmp-ok`, "sh", tmpA, rt)
		if strings.Contains(out, "secret-of-a") {
			t.Errorf("workspace b read workspace a's temp file:\n%s", out)
		}
		if strings.Contains(out, ".alive") || strings.Contains(out, ".setup") || strings.Contains(out, "\n"+tmpA[len(rt)+1:]+"\n") {
			t.Errorf("the runtime dir is visible inside:\n%s", out)
		}
		if !strings.Contains(out, "own-tmp-ok") {
			t.Errorf("b's own temp dir is not usable:\n%s", out)
		}
	})
}
