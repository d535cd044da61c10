//go:build linux

package supervisor

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPathsFollowNoLink: the host-side resolvers refuse a symbolic link
// in any component, the root's included, and any escape from the root;
// the link-free path is the positive control.
func TestPathsFollowNoLink(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(base, "root")
	for _, d := range []string{root + "/dir", base + "/elsewhere"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "dir/file"), []byte("x"), 0o644)
	os.Symlink(filepath.Join(base, "elsewhere"), filepath.Join(root, "link"))
	os.Symlink(root, filepath.Join(base, "rootlink"))

	if fd, err := OpenRoot(root); err != nil {
		t.Fatalf("OpenRoot(%s): %v", root, err)
	} else {
		unix.Close(fd)
	}
	if fd, err := OpenRoot(filepath.Join(base, "rootlink")); err == nil {
		unix.Close(fd)
		t.Error("OpenRoot followed a symlinked root")
	} else if !errors.Is(err, unix.ELOOP) {
		t.Errorf("OpenRoot of a symlinked root: %v, want ELOOP", err)
	}
	rfd, err := OpenRoot(root)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rfd)
	if fd, err := OpenBeneath(rfd, "dir/file", unix.O_RDONLY, 0); err != nil {
		t.Errorf("OpenBeneath(dir/file): %v", err)
	} else {
		unix.Close(fd)
	}
	for rel, want := range map[string]unix.Errno{"link": unix.ELOOP, "link/x": unix.ELOOP, "../elsewhere": unix.EXDEV, "/etc": unix.EXDEV} {
		fd, err := OpenBeneath(rfd, rel, unix.O_PATH, 0)
		if err == nil {
			unix.Close(fd)
			t.Errorf("OpenBeneath(%s) opened it", rel)
		} else if !errors.Is(err, want) {
			t.Errorf("OpenBeneath(%s): %v, want %v", rel, err, want)
		}
	}
	if err := LinkFree(root, filepath.Join(root, "link")); !errors.Is(err, unix.ELOOP) {
		t.Errorf("LinkFree through a link: %v, want ELOOP", err)
	}
	if err := LinkFree(root, filepath.Join(root, "dir/file")); err != nil {
		t.Errorf("LinkFree(dir/file): %v", err)
	}
}
