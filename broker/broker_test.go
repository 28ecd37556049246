package broker

import "testing"

func TestChannelString(t *testing.T) {
	for _, tc := range []struct {
		ch   Channel
		want string
		ok   bool
	}{
		{Channel{Room, "lobby"}, "room:lobby", true},
		{Channel{User, "s42"}, "user:s42", true},
		{Channel{Room, ""}, "room:", false},
		{Channel{0, "x"}, "kind(0):x", false},
		{Channel{7, "x"}, "kind(7):x", false},
	} {
		if got := tc.ch.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.ch, got, tc.want)
		}
		if got := tc.ch.Valid(); got != tc.ok {
			t.Errorf("%#v.Valid() = %v, want %v", tc.ch, got, tc.ok)
		}
	}
}
