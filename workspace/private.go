package workspace

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// cordon's own directories (state, config) and the files in it are
// trusted only when cordon could have made them: a real directory (no
// symbolic link), owned by the user cordon runs as, that nobody else can
// write; files in it are opened without following a link and checked the
// same way on the descriptor. A sandbox never sees them writable (the
// sandbox hides and pins them), so what passes these checks came from
// cordon or from the user.

// PrivateDir makes dir when it is missing (0700, parents too) and checks
// that it is one of ours.
func PrivateDir(dir string) error {
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("%s: not an absolute path", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return err
	}
	return checkOwn(dir, &st, unix.S_IFDIR)
}

// OpenPrivate opens name in the private directory dir (checked, and made
// when missing, as PrivateDir does) without following a symbolic link,
// and refuses a file that is not a regular file of ours nobody else can
// write. flag is os.OpenFile's.
func OpenPrivate(dir, name string, flag int, perm os.FileMode) (*os.File, error) {
	if err := PrivateDir(dir); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, name), flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, perm)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	if err := checkOwn(f.Name(), &st, unix.S_IFREG); err != nil {
		f.Close()
		return nil, err
	}
	if err := unix.SetNonblock(int(f.Fd()), false); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func checkOwn(path string, st *unix.Stat_t, kind uint32) error {
	mode := uint32(st.Mode) // uint16 on macOS
	if mode&unix.S_IFMT != kind || int(st.Uid) != os.Geteuid() || mode&0o022 != 0 {
		return fmt.Errorf("%s is not cordon's (type %o, owner %d, mode %o; want a %s of uid %d nobody else can write): fix or remove it",
			path, mode&unix.S_IFMT, st.Uid, mode&0o7777, map[uint32]string{unix.S_IFDIR: "directory", unix.S_IFREG: "file"}[kind], os.Geteuid())
	}
	return nil
}
