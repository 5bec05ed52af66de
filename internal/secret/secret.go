// Package secret holds tokens and secrets so that they cannot leak by accident: a String
// prints, logs and marshals as "[redacted]" everywhere, and only Reveal gives its value, at
// the one place that needs it (an Authorization header, an HMAC key).
package secret

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Redacted is what a String shows instead of its value.
const Redacted = "[redacted]"

// String is a secret value: an access token, an app secret, a verify token. Its zero value is
// the empty secret (none configured). It decodes from JSON and YAML as a plain string, but
// every way of printing or encoding it (fmt verbs, slog, encoding/json) gives Redacted.
type String string

// Reveal returns the secret's value. Call it only where the value is used, never to log it.
func (s String) Reveal() string { return string(s) }

// IsZero reports whether no secret is set.
func (s String) IsZero() bool { return s == "" }

// Equal reports whether v is the secret, in constant time. Both are compared as SHA-256
// digests, so that neither their contents nor their lengths leak through timing. An empty
// secret equals nothing, not even the empty string.
func (s String) Equal(v string) bool {
	if s == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(s)), sha256.Sum256([]byte(v))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// String returns Redacted.
func (s String) String() string { return Redacted }

// GoString returns Redacted, for %#v.
func (s String) GoString() string { return Redacted }

// Format writes Redacted for every verb (quoted for %q), so that no flag or verb of fmt
// reaches the value.
func (s String) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(Redacted))
		return
	}
	_, _ = io.WriteString(f, Redacted)
}

// LogValue returns Redacted for slog.
func (s String) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON encodes Redacted as a JSON string.
func (s String) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(Redacted)), nil }

// MarshalText returns Redacted, for encoders that use encoding.TextMarshaler (map keys,
// slog's text handler, YAML).
func (s String) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
