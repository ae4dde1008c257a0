package etcdcap

import (
	"context"
	"errors"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// attemptTimeout bounds one call to etcd within a retried operation: a
// member that died with the call in flight must not hold it up longer.
const attemptTimeout = 3 * time.Second

// retry calls f until it succeeds, ctx is done, the lease is lost, or f
// fails for a reason that another try cannot mend (permission, a bad
// request). A leader's death, a member's, a timeout, are tried again, with
// a short back-off: the cluster elects another leader within a second or
// two, and the client moves to another member.
func (c *Cap) retry(ctx context.Context, f func(ctx context.Context) error) error {
	return c.retryEach(ctx, attemptTimeout, f)
}

// openAttempt bounds one try of Open's calls: short enough for a second
// try, after a leader's death, within OpenTimeout.
const openAttempt = 2 * time.Second

// retryEach is retry with tries of at most per.
func (c *Cap) retryEach(ctx context.Context, per time.Duration, f func(ctx context.Context) error) error {
	wait := 20 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, per)
		err := f(actx)
		cancel()
		if err == nil || ctx.Err() != nil || c.Err() != nil || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-c.lost:
			return err
		case <-time.After(wait):
		}
		if wait < 500*time.Millisecond {
			wait *= 2
		}
	}
}

// transient reports whether err may go away by trying again.
func transient(err error) bool {
	if errors.Is(err, ErrLost) {
		return false
	}
	// The client's calls return etcd's errors as rpctypes.EtcdError,
	// which status.FromError does not know.
	code := codes.Unknown
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		code = ee.Code()
	} else if s, ok := status.FromError(err); ok {
		code = s.Code()
	}
	switch code {
	case codes.PermissionDenied, codes.Unauthenticated, codes.InvalidArgument, codes.FailedPrecondition:
		return false
	}
	return true
}
