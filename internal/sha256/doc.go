// Package sha256 is SHA-256 (FIPS 180-4) for semlock's name keys, without
// the crypto packages: crypto/sha256 links crypto/cipher, AES-GCM and the
// FIPS module, whose package initialisation every run of the poolrun
// binary would pay for (about 8 % of `poolrun --version`'s start). Hashing
// a set name is neither a hot path nor secret: a plain implementation,
// checked against crypto/sha256 in the tests, serves.
//
//	key := sha256.Sum256([]byte("poolrun/v1\x00" + uid + "\x00" + name))
package sha256
