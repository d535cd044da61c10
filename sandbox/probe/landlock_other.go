//go:build !linux

package probe

func landlock() Check { return Check{Name: "landlock", Detail: "Linux only"} }
