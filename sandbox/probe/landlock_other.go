//go:build !linux

package probe

func landlockCheck() Check { return Check{Name: "landlock", Detail: "Linux only"} }
