package workspace

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// TrustStore remembers which exact policy contents the user approved. It
// lives in cordon's state directory, which every sandbox hides, so a
// command cannot trust its own edits.
type TrustStore struct {
	Dir string
}

// maxHashesPerFile bounds the store: older approvals of a file fall off.
const maxHashesPerFile = 32

type trustData struct {
	// Files maps an absolute policy path to the approved content hashes,
	// newest last.
	Files map[string][]string `json:"files"`
}

func (t TrustStore) path() string { return filepath.Join(t.Dir, "trust.json") }

// Trusted reports whether file's content with this hash was approved.
func (t TrustStore) Trusted(file, hash string) (bool, error) {
	data, err := t.read()
	if err != nil {
		return false, err
	}
	for _, h := range data.Files[file] {
		if h == hash {
			return true, nil
		}
	}
	return false, nil
}

// Trust approves file's content with this hash.
func (t TrustStore) Trust(file, hash string) error {
	return t.update(func(data *trustData) bool {
		hashes := data.Files[file]
		for _, h := range hashes {
			if h == hash {
				return false
			}
		}
		hashes = append(hashes, hash)
		if len(hashes) > maxHashesPerFile {
			hashes = hashes[len(hashes)-maxHashesPerFile:]
		}
		data.Files[file] = hashes
		return true
	})
}

// Untrust withdraws every approval of file: what it widens stops applying
// until its content is trusted again.
func (t TrustStore) Untrust(file string) error {
	return t.update(func(data *trustData) bool {
		if _, ok := data.Files[file]; !ok {
			return false
		}
		delete(data.Files, file)
		return true
	})
}

// update changes the store under its lock; change reports whether it
// changed anything worth writing.
func (t TrustStore) update(change func(*trustData) bool) error {
	if err := PrivateDir(t.Dir); err != nil {
		return fmt.Errorf("trust store: %w", err)
	}
	unlock, err := t.lock()
	if err != nil {
		return err
	}
	defer unlock()
	data, err := t.read()
	if err != nil {
		return err
	}
	if !change(data) {
		return nil
	}
	b, err := json.MarshalIndent(data, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(t.Dir, "trust-*.json")
	if err != nil {
		return fmt.Errorf("trust store: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("trust store: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("trust store: %w", err)
	}
	if err := os.Rename(tmp.Name(), t.path()); err != nil {
		return fmt.Errorf("trust store: %w", err)
	}
	return nil
}

func (t TrustStore) read() (*trustData, error) {
	data := &trustData{Files: map[string][]string{}}
	var dst unix.Stat_t
	if err := unix.Lstat(t.Dir, &dst); err == nil {
		if err := checkOwn(t.Dir, &dst, unix.S_IFDIR); err != nil {
			return nil, fmt.Errorf("trust store: %w", err)
		}
	}
	f, err := os.OpenFile(t.path(), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return data, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trust store: %w", err)
	}
	defer f.Close()
	if err := checkPrivate(f); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("trust store: %w", err)
	}
	if err := json.Unmarshal(b, data); err != nil {
		return nil, fmt.Errorf("trust store %s is corrupt (%v); remove it to start over", t.path(), err)
	}
	if data.Files == nil {
		data.Files = map[string][]string{}
	}
	return data, nil
}

// checkPrivate refuses a store someone else could have written: approvals
// in it are not the user's. Fail closed: nothing is trusted until it is
// fixed.
func checkPrivate(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("trust store: %w", err)
	}
	if int(st.Uid) != os.Geteuid() || st.Mode&0o022 != 0 {
		return fmt.Errorf("trust store %s is writable by others or not yours (owner %d, mode %o): fix or remove it", f.Name(), st.Uid, st.Mode&0o777)
	}
	return nil
}

// lock serialises writers across cordon processes.
func (t TrustStore) lock() (func(), error) {
	f, err := OpenPrivate(t.Dir, "trust.lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("trust store: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("trust store: %w", err)
	}
	return func() { f.Close() }, nil
}
