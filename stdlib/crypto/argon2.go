package crypto

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen int
	KeyLen  int
}

// DefaultParams are what password_hash uses: OWASP's recommended minimum
// for argon2id (Password Storage Cheat Sheet): 19 MiB, 2 passes, 1 lane,
// a 16-byte salt and a 32-byte hash. About 20-40 ms on one core.
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on the parameters of a hash password_verify accepts, so that a
// hash string from elsewhere cannot ask for gigabytes or minutes.
const (
	MaxMemory   = 1 << 20 // KiB: 1 GiB
	MaxTime     = 64
	MaxThreads  = 64
	MaxPassword = 4096 // bytes
)

var errTooLong = fmt.Errorf("the password is more than %d bytes", MaxPassword)

// Hash hashes pw with a fresh salt and returns the PHC string
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash> (unpadded standard base64,
// as the reference implementation and libsodium write it).
func Hash(pw []byte, p Params) string {
	salt := make([]byte, p.SaltLen)
	_, _ = rand.Read(salt)
	key := argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, uint32(p.KeyLen))
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// PHC is a parsed argon2id hash string.
type PHC struct {
	Params
	Salt, Key []byte
}

// ParseHash parses an argon2id PHC string. Anything else, another
// version, or parameters past the bounds is an error.
func ParseHash(s string) (*PHC, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		if len(parts) > 1 && parts[0] == "" && parts[1] == "argon2id" {
			return nil, errors.New("malformed argon2id hash")
		}
		return nil, errors.New("not an argon2id hash")
	}
	if parts[1] != "argon2id" {
		return nil, fmt.Errorf("not an argon2id hash (%.20q)", parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, fmt.Errorf("unsupported argon2 version %.20q", parts[2])
	}
	var ph PHC
	var seen [3]bool
	kvs := strings.Split(parts[3], ",")
	if len(kvs) != 3 {
		return nil, errors.New("bad argon2 parameters: want m=,t=,p=")
	}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil || v == "" || v[0] == '+' {
			return nil, fmt.Errorf("bad argon2 parameter %.20q", kv)
		}
		i := strings.Index("mtp", k)
		if len(k) != 1 || i < 0 || seen[i] {
			return nil, fmt.Errorf("bad argon2 parameter %.20q", kv)
		}
		seen[i] = true
		switch k {
		case "m":
			ph.Memory = uint32(n)
		case "t":
			ph.Time = uint32(n)
		case "p":
			if n > MaxThreads {
				return nil, fmt.Errorf("argon2 parameter p=%d is more than %d", n, MaxThreads)
			}
			ph.Threads = uint8(n)
		}
	}
	switch {
	case ph.Threads < 1:
		return nil, errors.New("argon2 parameter p must be at least 1")
	case ph.Time < 1 || ph.Time > MaxTime:
		return nil, fmt.Errorf("argon2 parameter t=%d is not in 1..%d", ph.Time, MaxTime)
	case ph.Memory < 8*uint32(ph.Threads) || ph.Memory > MaxMemory:
		return nil, fmt.Errorf("argon2 parameter m=%d is not in %d..%d", ph.Memory, 8*uint32(ph.Threads), MaxMemory)
	}
	var err error
	b64 := base64.RawStdEncoding.Strict()
	if ph.Salt, err = b64.DecodeString(parts[4]); err != nil || len(ph.Salt) < 8 || len(ph.Salt) > 64 {
		return nil, errors.New("bad argon2 salt")
	}
	if ph.Key, err = b64.DecodeString(parts[5]); err != nil || len(ph.Key) < 4 || len(ph.Key) > 512 {
		return nil, errors.New("bad argon2 hash")
	}
	ph.SaltLen, ph.KeyLen = len(ph.Salt), len(ph.Key)
	return &ph, nil
}

// Verify says whether pw hashes to the key, comparing in constant time.
func (ph *PHC) Verify(pw []byte) bool {
	key := argon2.IDKey(pw, ph.Salt, ph.Time, ph.Memory, ph.Threads, uint32(len(ph.Key)))
	return subtle.ConstantTimeCompare(key, ph.Key) == 1
}
