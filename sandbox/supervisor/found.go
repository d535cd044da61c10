package supervisor

import (
	"sync"
	"time"

	"github.com/cordon-dev/cordon/sandbox"
)

// found collects a run's violations once per target, counting repeats
// (a loop of refused calls is one report, not a growing list). The zero
// value is ready.
type found struct {
	mu   sync.Mutex
	seen map[string]int // target → index in list
	list []sandbox.Violation
}

func (f *found) add(v sandbox.Violation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i, ok := f.seen[v.Target]; ok {
		f.list[i].Count++
		return
	}
	if f.seen == nil {
		f.seen = map[string]int{}
	}
	f.seen[v.Target] = len(f.list)
	v.Time, v.Count = time.Now(), 1
	f.list = append(f.list, v)
}

func (f *found) all() []sandbox.Violation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.list
}
