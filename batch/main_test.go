package batch

import (
	"os"
	"testing"

	"github.com/poolrun/poolrun/spawn"
)

func TestMain(m *testing.M) {
	spawn.Dispatch() // the tracker of the batches' private caps, when re-exec'd as it
	os.Exit(m.Run())
}
