module github.com/cordon-dev/cordon/server/e2e

// The end-to-end test is Node; this file keeps `go test ./...` out of its
// node_modules.

go 1.26
