// Package etcdcap is a cluster-wide slots.Cap on etcd: N slots shared by
// every process, on every machine, that opens the same name on the same
// etcd cluster.
//
// Each slot, held or waited for, is a key under the cap's prefix
// (/poolrun/cap/NAME/s/), attached to the lease of the process that made
// it. Keys are ranked by their create revision, which is arrival order: the
// first Size keys hold the slots, the others wait. A waiter watches one
// thing only: the key just before it (it is woken when that waiter gives up
// or is promoted, which it marks by rewriting its key), or, for the first
// waiter, the deletions under the prefix (a holder leaving). A slot comes
// back when its holder releases it (the key is deleted), when it closes
// the cap (the lease is revoked at once) and when it dies or is cut off
// (the lease expires after its TTL).
//
// Fencing: a process whose lease may have expired no longer holds its
// slots. The cap renews the lease itself and declares it lost (Lost is
// closed) a quarter of the TTL before etcd could expire it, so that the
// jobs running on its slots can be stopped before another process is given
// them.
//
// The package brings the etcd client (and grpc) with it, which is why it
// lives in a module of its own: poolrun's default binary hands etcd://
// caps to the poolrun-etcd helper of this module.
package etcdcap
