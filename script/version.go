package script

// Version is the imscript version: what imscript.version says, and what
// modules put in their User-Agent.
const Version = "0.1.0"
