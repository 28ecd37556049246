package jwt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/imscript/imscript/script"
)

// parsed counts the PEM keys parsed (the tests check the cache with it).
var parsed atomic.Int64

// keyCacheSize bounds the parsed PEM keys an instance keeps.
const keyCacheSize = 64

// key is a verify or sign key: a secret (HS256) or a parsed PEM key.
type key struct {
	alg     string // the algorithm the key implies
	secret  []byte // HS256
	public  any    // *rsa.PublicKey or *ecdsa.PublicKey
	private any    // *rsa.PrivateKey or *ecdsa.PrivateKey, when the PEM held one
}

func (k *key) verifyKey() any {
	if k.alg == "HS256" {
		return k.secret
	}
	return k.public
}

// kinds name what each algorithm needs, for errors.
var kinds = map[string]string{"HS256": "a secret", "RS256": "an RSA key (PEM)", "ES256": "a P-256 EC key (PEM)"}

// check refuses a key that is not for alg: above all a PEM key used as
// an HMAC secret, the algorithm-confusion attack's way in.
func (k *key) check(fn, alg string) {
	if k.alg != alg {
		script.Usagef("%s: bad argument #2 (key): %s needs %s, got %s", fn, alg, kinds[alg], kinds[k.alg])
	}
}

// key returns the key for s: a PEM key from the cache or parsed now, or a
// secret. Text that holds a PEM header is never a secret.
func (m *module) key(fn, s string) *key {
	if !strings.Contains(s, "-----BEGIN") {
		if s == "" {
			script.Usagef("%s: bad argument #2 (key): the key is empty", fn)
		}
		return &key{alg: "HS256", secret: []byte(s)}
	}
	if k := m.keys.get(s); k != nil {
		return k
	}
	k, err := parsePEM(s)
	if err != nil {
		script.Usagef("%s: bad argument #2 (key): %v", fn, err)
	}
	m.keys.put(s, k)
	return k
}

// parsePEM reads the first key block of s (other blocks, such as EC
// PARAMETERS, are skipped): PKCS#1, PKCS#8, SEC 1, PKIX public keys and
// certificates.
func parsePEM(s string) (*key, error) {
	parsed.Add(1)
	rest := []byte(s)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, fmt.Errorf("no PEM key found")
		}
		var parsed any
		var err error
		switch b.Type {
		case "RSA PRIVATE KEY":
			parsed, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "RSA PUBLIC KEY":
			parsed, err = x509.ParsePKCS1PublicKey(b.Bytes)
		case "EC PRIVATE KEY":
			parsed, err = x509.ParseECPrivateKey(b.Bytes)
		case "PRIVATE KEY":
			parsed, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "PUBLIC KEY":
			parsed, err = x509.ParsePKIXPublicKey(b.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(b.Bytes); err == nil {
				parsed = cert.PublicKey
			}
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("encrypted private keys are not supported: decrypt it first")
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("bad %s: %v", b.Type, err)
		}
		return fromParsed(parsed)
	}
}

func fromParsed(parsed any) (*key, error) {
	switch k := parsed.(type) {
	case *rsa.PrivateKey:
		return &key{alg: "RS256", public: &k.PublicKey, private: k}, nil
	case *rsa.PublicKey:
		return &key{alg: "RS256", public: k}, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("an EC key on %s: ES256 needs P-256", k.Curve.Params().Name)
		}
		return &key{alg: "ES256", public: &k.PublicKey, private: k}, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, fmt.Errorf("an EC key on %s: ES256 needs P-256", k.Curve.Params().Name)
		}
		return &key{alg: "ES256", public: k}, nil
	}
	return nil, fmt.Errorf("a %T key: want RSA (RS256) or P-256 EC (ES256)", parsed)
}

// keyCache maps PEM text to its parsed key, holding at most max entries
// (one is dropped to make room). Used by one worker at a time.
type keyCache struct {
	max int
	m   map[string]*key
}

func newKeyCache(max int) *keyCache { return &keyCache{max: max, m: make(map[string]*key)} }

func (c *keyCache) get(s string) *key { return c.m[s] }

func (c *keyCache) put(s string, k *key) {
	if len(c.m) >= c.max {
		for old := range c.m {
			delete(c.m, old)
			break
		}
	}
	c.m[s] = k
}
