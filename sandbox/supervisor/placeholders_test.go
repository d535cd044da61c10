//go:build linux

package supervisor

import (
	"os"
	"path/filepath"
	"testing"
)

func placeholderFixture(t *testing.T) (reg, root string) {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg, root = filepath.Join(base, "reg"), filepath.Join(base, "ws")
	os.MkdirAll(filepath.Join(root, "d"), 0o755)
	return reg, root
}

// TestPlaceholdersRemoveOnlyWhatTheyMade: a placeholder replaced on the
// host while a run lived (a new file in its place, or its directory moved
// and a link to it put where it was) is not removed: only the inode cordon
// made, found beneath its root through no link, is.
func TestPlaceholdersRemoveOnlyWhatTheyMade(t *testing.T) {
	reg, root := placeholderFixture(t)
	ph, err := LockPlaceholders(reg, root)
	if err != nil {
		t.Fatal(err)
	}
	missing := []string{filepath.Join(root, ".envrc"), filepath.Join(root, "d/f"), filepath.Join(root, "gone")}
	covered, uncovered, err := ph.Create(missing, []string{root})
	if err != nil || len(covered) != 3 || len(uncovered) != 0 {
		t.Fatalf("create: %v %v %v", covered, uncovered, err)
	}
	// The user replaces .envrc with a file of their own, moves d away
	// and links it back, and removes gone.
	os.Remove(filepath.Join(root, ".envrc"))
	os.WriteFile(filepath.Join(root, ".envrc"), nil, 0o644)
	os.Rename(filepath.Join(root, "d"), filepath.Join(root, "d2"))
	os.Symlink("d2", filepath.Join(root, "d"))
	os.Remove(filepath.Join(root, "gone"))
	ph.Release()
	for _, p := range []string{".envrc", "d2/f"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}

	// Control: untouched placeholders are removed.
	os.Remove(filepath.Join(root, "d"))
	os.Rename(filepath.Join(root, "d2"), filepath.Join(root, "d"))
	os.Remove(filepath.Join(root, "d/f"))
	ph, err = LockPlaceholders(reg, root)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ph.Create([]string{filepath.Join(root, "d/f"), filepath.Join(root, ".vscode/")}, []string{root}); err != nil {
		t.Fatal(err)
	}
	ph.Release()
	for _, p := range []string{"d/f", ".vscode"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
}

// TestPlaceholdersNeverThroughALink: a placeholder whose parent is a link
// (inside the workspace or out of it) is not made; it is returned as
// uncovered for the guard to hold.
func TestPlaceholdersNeverThroughALink(t *testing.T) {
	reg, root := placeholderFixture(t)
	outside := filepath.Join(filepath.Dir(root), "outside")
	os.MkdirAll(outside, 0o755)
	os.Symlink("../outside", filepath.Join(root, "x"))
	os.Symlink("d", filepath.Join(root, "y"))
	ph, err := LockPlaceholders(reg, root)
	if err != nil {
		t.Fatal(err)
	}
	defer ph.Release()
	want := []string{filepath.Join(root, "x/f"), filepath.Join(root, "y/f"), filepath.Join(root, "nodir/f")}
	covered, uncovered, err := ph.Create(want, []string{root})
	if err != nil || len(covered) != 0 || len(uncovered) != 3 {
		t.Fatalf("covered %v uncovered %v: %v", covered, uncovered, err)
	}
	for _, p := range []string{filepath.Join(outside, "f"), filepath.Join(root, "d/f")} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s made through a link", p)
		}
	}
}
