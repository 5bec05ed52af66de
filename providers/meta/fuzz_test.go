package meta

import (
	"os"
	"strings"
	"testing"
)

// unicodeBody is a recorded WhatsApp webhook whose non-ASCII text is \uXXXX-escaped, as Meta
// sends and signs it.
func unicodeBody(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/webhooks/whatsapp/unicode_escaped.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzCheckSignature checks that a body signed with a secret verifies, that any change to the
// body or the header is refused, and that no header makes the check panic.
func FuzzCheckSignature(f *testing.F) {
	f.Add([]byte("hello"), "It's a Secret to Everybody", "sha256=00", 0)
	f.Add(unicodeBody(f), "d41d8cd98f00b204e9800998ecf8427e", "", 17)
	f.Fuzz(func(t *testing.T, body []byte, secret, header string, flip int) {
		_ = CheckSignature(header, body, secret) // anything goes, nothing panics
		if secret == "" {
			if CheckSignature(SignatureHeaderValue(body, secret), body, secret) != ErrNoAppSecret {
				t.Fatal("an empty secret verified")
			}
			return
		}
		good := SignatureHeaderValue(body, secret)
		if err := CheckSignature(good, body, secret); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
		if len(body) > 0 {
			i := (flip%len(body) + len(body)) % len(body)
			changed := append([]byte(nil), body...)
			changed[i] ^= 0x01
			if CheckSignature(good, changed, secret) != ErrSignatureMismatch {
				t.Fatal("changed body verified")
			}
		}
		if header != good && !strings.EqualFold(strings.TrimSpace(header), good) && CheckSignature(header, body, secret) == nil {
			t.Fatalf("foreign header %q verified", header)
		}
	})
}

func BenchmarkCheckSignature(b *testing.B) {
	body := unicodeBody(b)
	const secret = "d41d8cd98f00b204e9800998ecf8427e"
	h := SignatureHeaderValue(body, secret)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := CheckSignature(h, body, secret); err != nil {
			b.Fatal(err)
		}
	}
}
