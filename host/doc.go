// Package host is the language-neutral core of imscript: the reactor (gnet
// event loops for TCP, net for UDP), the workers that each own one script VM,
// the server and timer objects, and hot reload.
//
// The script API is defined here once, as Go functions over neutral values
// (see Value, Call, Type); the bindings in bindings/lua and bindings/js expose
// it to their language without knowing any particular method.
package host
