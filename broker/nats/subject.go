package nats

import (
	"crypto/sha256"
	"encoding/base64"

	"github.com/imscript/imscript/broker"
)

// Subjects. A channel is one subject token under a prefix per purpose and
// kind:
//
//	imh.room.<token>   history: the stream's subject of room <name>
//	imh.user.<token>   history of a uid's personal channel
//	imd.room.<token>   live delivery (core NATS, at most once)
//	imd.user.<token>
//
// The token is the name in unpadded base64url (RFC 4648 §5: A-Z a-z 0-9 - _),
// so any name — dots, spaces, '*', '>', unicode, empty parts — is one valid
// token, and distinct names give distinct tokens. A name longer than
// maxPlainName bytes would make a subject longer than a NATS control line
// allows (4 KiB by default); it becomes "~" followed by the base64url of its
// SHA-256. '~' is outside the base64url alphabet, so the two forms never
// meet, and two long names share a subject only if SHA-256 collides.
const (
	histPrefix   = "imh."
	livePrefix   = "imd."
	maxPlainName = 512
)

// token returns the subject token of a channel name.
func token(name string) string {
	if len(name) > maxPlainName {
		sum := sha256.Sum256([]byte(name))
		return "~" + base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return base64.RawURLEncoding.EncodeToString([]byte(name))
}

func kindToken(k broker.Kind) string {
	if k == broker.User {
		return "user."
	}
	return "room."
}

// histSubject is ch's subject in the history stream.
func histSubject(ch broker.Channel) string { return histPrefix + kindToken(ch.Kind) + token(ch.Name) }

// liveSubject is ch's core NATS subject for delivery to other nodes.
func liveSubject(ch broker.Channel) string { return livePrefix + kindToken(ch.Kind) + token(ch.Name) }
