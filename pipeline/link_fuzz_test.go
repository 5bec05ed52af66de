package pipeline

import (
	"bytes"
	"testing"

	"github.com/flowgate/flowgate/engine"
)

// FuzzDecodeLink: any stored value decodes as a link or as nothing, without panicking; an
// engine state is never taken for a link, and a link reads back as written.
func FuzzDecodeLink(f *testing.F) {
	st, _ := (&engine.State{Flow: "f", Node: "n", Phone: "16505551234", UserID: "US.1"}).Encode()
	f.Add(st)
	f.Add(encodeLink(link{To: "US.13491208655302741918"}))
	f.Add(encodeLink(link{To: "16505551234", Changed: true, Carry: st}))
	f.Add([]byte{linkMark})
	f.Add([]byte{linkMark, '{', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, ok := decodeLink(b)
		if !ok {
			return
		}
		if l.To == "" {
			t.Fatalf("link without target from %q", b)
		}
		if _, err := engine.DecodeState(b); err == nil {
			t.Fatalf("%q reads both as a link and as a state", b)
		}
		again, ok := decodeLink(encodeLink(l))
		if !ok || again.To != l.To || again.Changed != l.Changed || !bytes.Equal(again.Carry, l.Carry) {
			t.Fatalf("link %+v reads back as %+v", l, again)
		}
	})
}
