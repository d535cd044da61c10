module github.com/cordon-dev/cordon/editors

// The editor integrations are not Go; this file keeps `go test ./...`
// out of their node_modules.

go 1.26
