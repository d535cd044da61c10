package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/cordon-dev/cordon/proxy"
)

// openTerminal opens the controlling terminal, if there is one.
func openTerminal() (*os.File, bool) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, false
	}
	return tty, true
}

func askYesNo(tty *os.File, prompt string) bool {
	fmt.Fprint(tty, prompt)
	line, _ := bufio.NewReader(tty).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// terminalApprover asks about unknown hosts on the controlling terminal,
// one question at a time; with no terminal every answer is deny.
type terminalApprover struct {
	mu sync.Mutex
}

func newTerminalApprover() proxy.Approver { return &terminalApprover{} }

func (a *terminalApprover) Approve(ctx context.Context, q proxy.Question) (proxy.Answer, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	tty, ok := openTerminal()
	if !ok {
		return proxy.Deny, proxy.ErrNotAsked // reported as the default's refusal, not as an answer
	}
	defer tty.Close()
	fmt.Fprintf(tty, "cordon: %q wants to reach %s:%d, which no rule covers.\n  allow [o]nce, [a]lways for this run, or [N]o? ", q.Command, q.Host, q.Port)
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(tty).ReadString('\n')
		answer <- strings.ToLower(strings.TrimSpace(line))
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(tty, "\ncordon: no answer in time: denied")
		return proxy.Deny, nil
	case s := <-answer:
		switch s {
		case "o", "once":
			return proxy.AllowOnce, nil
		case "a", "always":
			return proxy.AllowAlways, nil
		}
		return proxy.Deny, nil
	}
}

func newRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
