//go:build !linux

package probe

// UsernsFix is Linux's; elsewhere there are no user namespaces to fix.
func UsernsFix() string { return "Linux only" }
