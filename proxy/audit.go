package proxy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/cordon-dev/cordon/workspace"
)

// Audit appends every decision as one JSON line. It is safe for
// concurrent use; each line is written with one write(2) on an O_APPEND
// file, so lines from concurrent cordon processes do not interleave.
type Audit struct {
	mu sync.Mutex
	f  *os.File
}

// OpenAudit opens (creating) the audit log, 0600 in a 0700 directory:
// never through a symbolic link planted there, never a file that is not
// cordon's (workspace.OpenPrivate).
func OpenAudit(path string) (*Audit, error) {
	f, err := workspace.OpenPrivate(filepath.Dir(path), filepath.Base(path), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return &Audit{f: f}, nil
}

// Record appends d.
func (a *Audit) Record(d Decision) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	_, err = a.f.Write(b)
	return err
}

// Close closes the log.
func (a *Audit) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.f.Close()
}
