package crypto

import "github.com/imscript/imscript/script"

// Running is how many password hashes inst's host runs at this moment.
func Running(inst script.Instance) int { return len(shared(inst).slots) }
