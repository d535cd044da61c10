package sandbox

// HostEnv is the whole environment of every process cordon starts outside
// the sandbox (bwrap, the placeholder reaper, probes): fixed, built here,
// never the command's. The command's environment comes from the caller, a
// workspace file or a client, and variables such as LD_PRELOAD, LD_AUDIT,
// LD_LIBRARY_PATH or GCONV_PATH would run their code in bwrap on the host
// before any namespace or filter exists; the backends hand that
// environment to the command by other means (on Linux, a descriptor the
// in-sandbox init reads).
func HostEnv() []string {
	return []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
}
