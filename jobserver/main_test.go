package jobserver_test

import (
	"os"
	"testing"

	"github.com/poolrun/poolrun/spawn"
)

func TestMain(m *testing.M) {
	spawn.Dispatch() // the tracker of the tests' caps and fifos, when re-exec'd as it
	os.Exit(m.Run())
}
