package meta

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/flowgate/flowgate/providers/channel"
)

// SignatureHeader is the header Meta signs webhook bodies in.
const SignatureHeader = "X-Hub-Signature-256"

const signaturePrefix = "sha256="

// Errors of CheckSignature; the server answers all of them with 401. The first three match
// channel.ErrBadSignature and ErrNoAppSecret is channel.ErrNoAppSecret (errors.Is).
var (
	ErrSignatureMissing   = fmt.Errorf("%w: missing", channel.ErrBadSignature)
	ErrSignatureMalformed = fmt.Errorf("%w: malformed", channel.ErrBadSignature)
	ErrSignatureMismatch  = fmt.Errorf("%w: mismatch", channel.ErrBadSignature)
	ErrNoAppSecret        = channel.ErrNoAppSecret
)

// Verify answers the webhook verification handshake: it returns the hub.challenge to echo
// (with 200, as text/plain) when hub.mode is "subscribe", the challenge is present and
// hub.verify_token equals verifyToken. The tokens are compared in constant time (as SHA-256
// digests, so that their lengths do not leak either). An empty verifyToken never verifies.
func Verify(q url.Values, verifyToken string) (challenge string, ok bool) {
	if verifyToken == "" || q.Get("hub.mode") != "subscribe" {
		return "", false
	}
	challenge = q.Get("hub.challenge")
	if challenge == "" {
		return "", false
	}
	got := sha256.Sum256([]byte(q.Get("hub.verify_token")))
	want := sha256.Sum256([]byte(verifyToken))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return "", false
	}
	return challenge, true
}

// CheckSignature checks an X-Hub-Signature-256 header ("sha256=" and 64 hex digits) against
// the HMAC-SHA256 of body under appSecret. body must be the raw request bytes exactly as
// received: Meta signs its escaped-unicode JSON, and re-encoded JSON does not match. The
// comparison is in constant time. The error is ErrNoAppSecret, ErrSignatureMissing,
// ErrSignatureMalformed or ErrSignatureMismatch.
func CheckSignature(header string, body []byte, appSecret string) error {
	if appSecret == "" {
		return ErrNoAppSecret
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrSignatureMissing
	}
	if len(header) != len(signaturePrefix)+2*sha256.Size || !strings.EqualFold(header[:len(signaturePrefix)], signaturePrefix) {
		return ErrSignatureMalformed
	}
	got, err := hex.DecodeString(header[len(signaturePrefix):])
	if err != nil {
		return ErrSignatureMalformed
	}
	if !hmac.Equal(got, Sign(body, appSecret)) {
		return ErrSignatureMismatch
	}
	return nil
}

// Sign returns the HMAC-SHA256 of body under appSecret; "sha256=" + hex of it is the header
// value Meta sends. Tests and local tools use it to sign recorded webhooks.
func Sign(body []byte, appSecret string) []byte {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return mac.Sum(nil)
}

// SignatureHeaderValue returns the X-Hub-Signature-256 value for body.
func SignatureHeaderValue(body []byte, appSecret string) string {
	return signaturePrefix + hex.EncodeToString(Sign(body, appSecret))
}
