// Package remotecap is a slots.Cap kept by another process: a helper that
// holds the real cap (poolrun-etcd holds an etcd one) and serves it over
// its standard input and output, one JSON object a line. poolrun's
// default binary reaches caps this way whose clients it does not link
// (the etcd client and grpc): users who never use them do not pay for
// them at start.
//
// The protocol: the helper says {"ready":SIZE} or {"err":MSG} first. Then
// each request {"op":OP,"id":N} gets one answer with the same id:
// "acquire" a {"slot":S} or {"err":MSG} ("cancel" with the same id ends
// its wait), "try" a {"slot":S}, {"none":true} or {"err":MSG}, "release"
// (with "slot") and "unshare" (with "share") {} or {"err":MSG}, "share"
// {"share":H,"env":[…]}. At any time the helper may say {"lost":MSG}: its
// cap no longer holds its slots. When its input ends (this process closed
// it, or died), the helper lets go of the cap and exits.
package remotecap

// msg is one line of the protocol, either way.
type msg struct {
	Op    string   `json:"op,omitempty"`
	ID    uint64   `json:"id,omitempty"`
	Slot  uint64   `json:"slot,omitempty"`
	Share uint64   `json:"share,omitempty"`
	None  bool     `json:"none,omitempty"`
	Env   []string `json:"env,omitempty"`
	Err   string   `json:"err,omitempty"`
	Ready int      `json:"ready,omitempty"`
	Lost  string   `json:"lost,omitempty"`
}
