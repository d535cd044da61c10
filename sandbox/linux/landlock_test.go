//go:build linux

package linux

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/sandbox/landlock"
	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
	"github.com/cordon-dev/cordon/workspace"
)

// TestLandlockAloneHoldsThePolicy turns bwrap's mounts off (/ bound
// writable, nothing hidden): the Landlock layer alone must still refuse a
// write outside the workspace and a read of a credential, while the
// workspace stays writable. With Landlock off too, the same commands
// succeed: the positive control that the attacks were made. When the
// guard makes names on the host, it holds the write line as well.
func TestLandlockAloneHoldsThePolicy(t *testing.T) {
	if landlock.ABI() < 1 {
		sandboxtest.Skip(t, "this kernel has no Landlock: the layer cannot be tested here")
	}
	// Outside /tmp: inside, /tmp is the run's private one, writable as a
	// whole, and Landlock cannot carve a denied path out of a writable
	// place (the mounts alone hold there; README, Known limits).
	t.Setenv("TMPDIR", "/var/tmp")
	asRootAndUser(t, func(t *testing.T, u *sandboxtest.User) {
		e := newLaunchEnv(t, u)
		outside := filepath.Join(filepath.Dir(e.ws), "outside")
		secret := filepath.Join(e.home, ".aws", "credentials")
		for _, d := range []string{outside, filepath.Dir(secret)} {
			os.MkdirAll(d, 0o755)
		}
		os.WriteFile(filepath.Join(outside, "f"), []byte("host\n"), 0o644)
		os.WriteFile(secret, []byte("AKIA-secret\n"), 0o600)
		if u != nil {
			sandboxtest.Chown(t, filepath.Dir(e.ws), u)
		}
		script := `echo attack > ` + outside + `/f; echo "write:$?"
echo new > ` + outside + `/g; echo "create:$?"
cat ` + secret + `; echo "read:$?"
echo mine > ` + e.ws + `/mine; cat ` + e.ws + `/mine; echo "ws:$?"`
		run := func(off string) string {
			t.Helper()
			os.Remove(filepath.Join(outside, "g"))
			os.WriteFile(filepath.Join(outside, "f"), []byte("host\n"), 0o644)
			var out bytes.Buffer
			t.Setenv(layersVar, off)
			cmd := e.launch(&out, "sh", "-c", script)
			_ = waitCmd(t, cmd)
			return out.String()
		}

		// Without a guarded rule the kernel makes every name (Landlock
		// applies to the caller); with one (deny_write = [".env"]: any
		// depth; or a protected name that does not exist yet) the guard
		// makes them on the host and holds the same line itself
		// (supervisor.Judge.mayWrite). Every protected name exists in the
		// unguarded case, so that none is the guard's.
		for _, guard := range []bool{false, true} {
			policy := ""
			if guard {
				policy = "[filesystem]\ndeny_write = [\".env\"]\n"
			}
			for _, name := range workspace.ProtectedNames() {
				if strings.HasPrefix(name, ".git/") || name == ".sandbox.toml" {
					continue // no .git here: those are not protected
				}
				path := filepath.Join(e.ws, name)
				switch {
				case guard:
					os.RemoveAll(path)
				case strings.HasSuffix(name, "/"):
					os.MkdirAll(path, 0o755)
				default:
					os.WriteFile(path, nil, 0o644)
				}
			}
			if u != nil {
				sandboxtest.Chown(t, e.ws, u)
			}
			if err := os.WriteFile(filepath.Join(e.ws, ".sandbox.toml"), []byte(policy), 0o644); err != nil {
				t.Fatal(err)
			}
			if !guard {
				control := run("nomounts,nolandlock")
				for _, w := range []string{"write:0", "create:0", "AKIA-secret", "read:0", "mine", "ws:0"} {
					if !strings.Contains(control, w) {
						t.Fatalf("positive control (no mounts, no Landlock): want %q in\n%s", w, control)
					}
				}
			}
			offs := []string{"nomounts", ""}
			if guard {
				offs = append(offs, "nomounts,nolandlock")
			}
			for _, off := range offs {
				got := run(off)
				for _, w := range []string{"mine", "ws:0"} {
					if !strings.Contains(got, w) {
						t.Errorf("guard %v, layers off %q: want %q in\n%s", guard, off, w, got)
					}
				}
				for _, w := range []string{"write:0", "create:0"} {
					if strings.Contains(got, w) {
						t.Errorf("guard %v, layers off %q: %q succeeded:\n%s", guard, off, w, got)
					}
				}
				// With the mounts, the credential is its empty mask, which
				// opens (to report the read); without, Landlock refuses it.
				if off != "nomounts,nolandlock" && (strings.Contains(got, "AKIA-secret") || off == "nomounts" && strings.Contains(got, "read:0")) {
					t.Errorf("guard %v, layers off %q: the credential was read:\n%s", guard, off, got)
				}
				if !guard && off == "nomounts" && strings.Count(got, "Permission denied") != 3 {
					t.Errorf("without mounts, Landlock (EACCES) should refuse all three:\n%s", got)
				}
				if b, _ := os.ReadFile(filepath.Join(outside, "f")); string(b) != "host\n" {
					t.Errorf("guard %v, layers off %q: the file outside became %q", guard, off, b)
				}
				if _, err := os.Stat(filepath.Join(outside, "g")); err == nil {
					t.Errorf("guard %v, layers off %q: a file was made outside", guard, off)
				}
			}
		}
	})
}
