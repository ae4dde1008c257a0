// Package integration holds black-box tests of the poolrun command: its
// TestMain builds cmd/poolrun and the tests drive the binary as a user
// would, over real processes, signals and SysV semaphore sets. It has no
// API; run it with go test ./integration_test/.
package integration
