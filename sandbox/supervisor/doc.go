// Package supervisor is everything cordon does on the host, outside the
// sandbox, while a run lives and after it: the observer of write-intent
// calls and the guard that makes new names for the sandboxed command
// (refusing the protected names that do not exist yet, so that nothing
// need be made on the host to cover them). It is the attack surface of the
// sandbox's host side, kept in one place to be read and reviewed as one.
//
// # What it trusts
//
//   - cordon's own configuration: the user defaults file and the trust
//     store, read by package workspace;
//   - the policy snapshot of the run and the plan built from it before the
//     sandbox started (Judge): which places are writable, read-only,
//     hidden or guarded;
//   - its own state and runtime directories, but only after checking that
//     each is a real directory it owns that nobody else can write, and only
//     through descriptors opened without following symbolic links;
//   - the kernel: seccomp notification ids (checked after every read of a
//     caller's memory), descriptor identities, ctime.
//
// # What it must never trust
//
//   - any path under a writable place: the sandboxed command (or a cloned
//     repository, before the first run) can make any component of it a
//     symbolic link, rename it or swap it at any moment. Every create,
//     open, chmod or remove cordon does there resolves beneath its root
//     without following a symlink (openat2 RESOLVE_BENEATH and
//     RESOLVE_NO_SYMLINKS, or a walk on descriptors), and removes only
//     what it made, checked by identity on a descriptor;
//   - any memory of a sandboxed process: a path read from it may change
//     under us. The observer uses such a path only for reports; the guard
//     reads it once and acts on its own copy, inside the sandbox's own
//     mount tree, on a thread without capabilities;
//   - timestamps the sandbox can set (mtime, atime: utimensat), for
//     deciding whether something changed;
//   - the sandbox's environment: no host-side process started here gets
//     the command's environment.
package supervisor
