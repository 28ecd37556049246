// Package jwt is imscript.jwt: sign and verify JSON Web Tokens (HS256,
// RS256, ES256) from scripts, on github.com/golang-jwt/jwt/v5.
//
// verify accepts exactly one algorithm: opts.alg, or else the one the key
// implies (a secret: HS256; an RSA key: RS256; a P-256 key: ES256). A
// token of any other algorithm — "none" above all, and HS256 signed with
// a public key's PEM text as the secret — is refused, and a PEM key is
// never taken as an HMAC secret. Keys in PEM are parsed once per
// instance and kept in a small cache, so verifying each message costs
// only the signature check.
package jwt

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/imscript/imscript/script"
	"github.com/imscript/imscript/stdlib/internal/opts"
)

// MaxToken bounds the length of a token verify reads.
const MaxToken = 64 << 10

// Module builds imscript.jwt for one instance.
// API describes imscript.jwt for editors. Its functions are made per
// instance (Module), each with its key cache.
var API = &script.API{
	Doc: "JSON Web Tokens (HS256, RS256, ES256).",
	Funcs: map[string]script.Method{
		"sign":   {Args: `claims: table, key: string, options?: {alg?: "HS256"|"RS256"|"ES256", expires_in?: number}`, Returns: "string", Doc: "A signed token of the claims."},
		"verify": {Args: `token: string, key: string, options?: {alg?: "HS256"|"RS256"|"ES256", leeway?: number, aud?: string, iss?: string}`, Returns: "table?, string?", Doc: "The claims of a valid token, or nil and why."},
	},
}

func Module(script.Instance) script.Value {
	m := &module{keys: newKeyCache(keyCacheSize)}
	return m.exports()
}

func (m *module) exports() script.Map {
	return script.Map{
		"sign":   script.Function(m.sign),
		"verify": script.Function(m.verify),
	}
}

// module is one instance's imscript.jwt. Its functions run on the
// instance's worker, one at a time, so its cache needs no lock.
type module struct{ keys *keyCache }

// methods are the algorithms there are, by name.
var methods = map[string]jwt.SigningMethod{
	"HS256": jwt.SigningMethodHS256,
	"RS256": jwt.SigningMethodRS256,
	"ES256": jwt.SigningMethodES256,
}

// algOpt reads opts.alg ("" when absent).
func algOpt(fn string, o *opts.Reader) string {
	alg := o.Str("alg", "")
	if alg == "" {
		return ""
	}
	if _, ok := methods[alg]; !ok {
		if strings.EqualFold(alg, "none") {
			script.Usagef("%s: option alg: \"none\" is never accepted", fn)
		}
		script.Usagef("%s: option alg: want \"HS256\", \"RS256\" or \"ES256\", got %q", fn, alg)
	}
	return alg
}

// sign is imscript.jwt.sign(claims, key [, {alg =, expires_in =}]) → the
// token.
func (m *module) sign(c script.Call) {
	const fn = "jwt.sign"
	claims := c.Table(0, "claims")
	key := c.Str(1, "key")
	o := opts.New(fn, c.OptTable(2, "options"), "alg", "expires_in")
	alg := algOpt(fn, o)
	k := m.key(fn, key)
	if alg == "" {
		alg = k.alg
	}
	k.check(fn, alg)
	var signKey any
	switch k.alg {
	case "HS256":
		signKey = k.secret
	default:
		if k.private == nil {
			script.Usagef("%s: bad argument #2 (key): %s needs the private key, got a public one", fn, alg)
		}
		signKey = k.private
	}
	mc := make(jwt.MapClaims, len(claims)+2)
	for name, v := range claims {
		mc[name] = plain(fn, name, v, 0)
	}
	if o.Has("expires_in") {
		now := time.Now().Unix()
		mc["exp"] = now + int64(o.Seconds("expires_in", 0)/time.Second)
		if _, ok := mc["iat"]; !ok {
			mc["iat"] = now
		}
	}
	tok, err := jwt.NewWithClaims(methods[alg], mc).SignedString(signKey)
	if err != nil {
		script.Usagef("%s: %v", fn, err)
	}
	c.ReturnStr(tok)
}

// verify is imscript.jwt.verify(token, key [, {alg =, leeway =, aud =,
// iss =}]) → the claims, or nil and why (JS: null).
func (m *module) verify(c script.Call) {
	const fn = "jwt.verify"
	token := c.Str(0, "token")
	key := c.Str(1, "key")
	o := opts.New(fn, c.OptTable(2, "options"), "alg", "leeway", "aud", "iss")
	alg := algOpt(fn, o)
	k := m.key(fn, key)
	if alg == "" {
		alg = k.alg
	}
	k.check(fn, alg)
	leeway := o.Seconds("leeway", 0)
	aud := o.Strings("aud")
	iss := o.Str("iss", "")
	claims, why := k.verify(token, alg, leeway)
	if why == "" {
		why = checkAudience(claims, aud)
	}
	if why == "" && iss != "" {
		why = checkIssuer(claims, iss)
	}
	if why != "" {
		c.Return(nil, why)
		return
	}
	c.Return(fromClaims(claims))
}

// verify checks token's algorithm, signature, exp and nbf; it returns the
// claims, or why not.
func (k *key) verify(token, alg string, leeway time.Duration) (jwt.MapClaims, string) {
	if len(token) > MaxToken {
		return nil, "token malformed"
	}
	p := jwt.NewParser(jwt.WithValidMethods([]string{alg}), jwt.WithJSONNumber(), jwt.WithLeeway(leeway))
	claims := jwt.MapClaims{}
	tok, err := p.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return k.verifyKey(), nil })
	if err == nil {
		return claims, ""
	}
	if errors.Is(err, jwt.ErrTokenMalformed) {
		return nil, "token malformed"
	}
	if tok != nil {
		switch a := tok.Header["alg"].(type) {
		case string:
			if a != alg {
				return nil, fmt.Sprintf("algorithm %.20s not allowed", a)
			}
		case nil:
			return nil, "algorithm missing"
		default:
			return nil, "token malformed"
		}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, "signature invalid"
	case errors.Is(err, jwt.ErrTokenExpired):
		return nil, "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return nil, "token not valid yet"
	case errors.Is(err, jwt.ErrInvalidType):
		return nil, "token claims invalid: " + claimName(err)
	}
	return nil, "token invalid"
}

// claimName is the claim an ErrInvalidType names ("exp is invalid").
func claimName(err error) string {
	for _, c := range []string{"exp", "nbf", "iat", "aud", "iss", "sub"} {
		if strings.Contains(err.Error(), c+" is invalid") {
			return c + " has the wrong type"
		}
	}
	return "a registered claim has the wrong type"
}

func checkAudience(claims jwt.MapClaims, want []string) string {
	if len(want) == 0 {
		return ""
	}
	got, err := claims.GetAudience()
	if err != nil {
		return "token claims invalid: aud has the wrong type"
	}
	if len(got) == 0 {
		return "audience missing"
	}
	for _, a := range got {
		if slices.Contains(want, a) {
			return ""
		}
	}
	return "audience mismatch"
}

func checkIssuer(claims jwt.MapClaims, want string) string {
	got, err := claims.GetIssuer()
	switch {
	case err != nil:
		return "token claims invalid: iss has the wrong type"
	case got == "":
		return "issuer missing"
	case got != want:
		return "issuer mismatch"
	}
	return ""
}

// plain converts a claim to what encoding/json encodes: integral numbers
// as integers, bytes as text.
func plain(fn, name string, v script.Value, depth int) any {
	if depth > 32 {
		script.Usagef("%s: claim %s is nested deeper than 32 levels", fn, name)
	}
	switch x := v.(type) {
	case nil, bool, string, int64:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			script.Usagef("%s: claim %s is %v, which JSON cannot hold", fn, name, x)
		}
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
		return x
	case []byte:
		return strings.ToValidUTF8(string(x), "\uFFFD")
	case script.List:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(fn, name, e, depth+1)
		}
		return out
	case script.Map:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plain(fn, name, e, depth+1)
		}
		return out
	case *script.Object:
		if x == script.Null {
			return nil
		}
	}
	script.Usagef("%s: claim %s: cannot put a %s in a token", fn, name, script.TypeName(v))
	return nil
}

// fromClaims converts decoded claims to script values: integers that fit
// an int64 stay integers, other numbers are floats.
func fromClaims(claims jwt.MapClaims) script.Map {
	out := make(script.Map, len(claims))
	for k, v := range claims {
		out[k] = fromJSON(v)
	}
	return out
}

func fromJSON(v any) script.Value {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case string:
		if !utf8.ValidString(x) {
			return strings.ToValidUTF8(x, "\uFFFD")
		}
		return x
	case []any:
		l := make(script.List, len(x))
		for i, e := range x {
			l[i] = fromJSON(e)
		}
		return l
	case map[string]any:
		m := make(script.Map, len(x))
		for k, e := range x {
			m[k] = fromJSON(e)
		}
		return m
	}
	return v
}
