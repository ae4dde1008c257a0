package etcdcap

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// TestTransient: etcd's refusals, as the client returns them
// (rpctypes.EtcdError) or as grpc statuses, are not tried again; a lost
// leader, a timeout are.
func TestTransient(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{rpctypes.ErrPermissionDenied, false},
		{rpctypes.ErrUserEmpty, false},
		{rpctypes.ErrAuthFailed, false},
		{fmt.Errorf("wrapped: %w", rpctypes.ErrPermissionDenied), false},
		{rpctypes.ErrGRPCPermissionDenied, false},
		{ErrLost, false},
		{rpctypes.ErrNoLeader, true},
		{rpctypes.ErrGRPCNoLeader, true},
		{rpctypes.ErrTimeout, true},
		{context.DeadlineExceeded, true},
		{errors.New("connection reset"), true},
	} {
		if got := transient(c.err); got != c.want {
			t.Errorf("transient(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
