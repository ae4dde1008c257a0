package semlock

import (
	"encoding/binary"
	"time"
)

// decodeStat decodes the generic 64-bit struct semid64_ds: ipc64_perm
// (48 bytes), sem_otime, sem_ctime, sem_nsems.
func decodeStat(b *[256]byte) setStat {
	le := binary.LittleEndian
	return setStat{
		key:   int32(le.Uint32(b[0:])),
		uid:   int(le.Uint32(b[4:])),
		cuid:  int(le.Uint32(b[12:])),
		mode:  le.Uint32(b[20:]) & 0o777,
		otime: time.Unix(int64(le.Uint64(b[48:])), 0),
		ctime: time.Unix(int64(le.Uint64(b[56:])), 0),
		nsems: int(le.Uint64(b[64:])),
	}
}
