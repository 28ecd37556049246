package jwt

import "github.com/imscript/imscript/script"

// KeyCacheSize is the bound on an instance's parsed keys.
const KeyCacheSize = keyCacheSize

// Parsed is the number of PEM keys parsed so far.
func Parsed() int64 { return parsed.Load() }

// ModuleWithCache is Module, with a function that says how many keys its
// cache holds.
func ModuleWithCache(script.Instance) (script.Map, func() int) {
	m := &module{keys: newKeyCache(keyCacheSize)}
	return m.exports(), func() int { return len(m.keys.m) }
}
