package semlock

import (
	"encoding/binary"
	"time"
)

// decodeStat decodes x86-64's struct semid64_ds: ipc64_perm (48 bytes),
// sem_otime, __unused1, sem_ctime, __unused2, sem_nsems.
func decodeStat(b *[256]byte) setStat {
	le := binary.LittleEndian
	return setStat{
		key:   int32(le.Uint32(b[0:])),
		uid:   int(le.Uint32(b[4:])),
		cuid:  int(le.Uint32(b[12:])),
		mode:  le.Uint32(b[20:]) & 0o777,
		otime: time.Unix(int64(le.Uint64(b[48:])), 0),
		ctime: time.Unix(int64(le.Uint64(b[64:])), 0),
		nsems: int(le.Uint64(b[80:])),
	}
}
