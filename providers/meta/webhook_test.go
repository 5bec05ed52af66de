package meta

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"strings"
	"testing"
)

func TestVerify(t *testing.T) {
	const token = "s3cr3t-verify-token"
	q := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name      string
		q         url.Values
		token     string
		challenge string
		ok        bool
	}{
		{"valid", q("hub.mode", "subscribe", "hub.challenge", "1158201444", "hub.verify_token", token), token, "1158201444", true},
		{"wrong token", q("hub.mode", "subscribe", "hub.challenge", "1158201444", "hub.verify_token", "s3cr3t-verify-tokeN"), token, "", false},
		{"token prefix", q("hub.mode", "subscribe", "hub.challenge", "1", "hub.verify_token", "s3cr3t"), token, "", false},
		{"missing token", q("hub.mode", "subscribe", "hub.challenge", "1"), token, "", false},
		{"wrong mode", q("hub.mode", "unsubscribe", "hub.challenge", "1", "hub.verify_token", token), token, "", false},
		{"no mode", q("hub.challenge", "1", "hub.verify_token", token), token, "", false},
		{"no challenge", q("hub.mode", "subscribe", "hub.verify_token", token), token, "", false},
		{"nothing configured never verifies", q("hub.mode", "subscribe", "hub.challenge", "1", "hub.verify_token", ""), "", "", false},
		{"PHP-style underscores are not accepted", q("hub_mode", "subscribe", "hub_challenge", "1", "hub_verify_token", token), token, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ch, ok := Verify(tc.q, tc.token)
			if ch != tc.challenge || ok != tc.ok {
				t.Errorf("Verify = %q, %v; want %q, %v", ch, ok, tc.challenge, tc.ok)
			}
		})
	}
}

func TestCheckSignature(t *testing.T) {
	// Vector computed with `printf hello | openssl dgst -sha256 -hmac "It's a Secret to Everybody"`.
	const secret = "It's a Secret to Everybody"
	body := []byte("hello")
	valid := "sha256=d8be890af13c40de78b7533ebfe56f4e9f16b4fde7eefa850c7cdb6360aecb6b"
	tests := []struct {
		name   string
		header string
		body   []byte
		secret string
		want   error
	}{
		{"valid", valid, body, secret, nil},
		{"valid with uppercase hex", strings.ToUpper(valid[:7]) + strings.ToUpper(valid[7:]), body, secret, nil},
		{"valid with surrounding spaces", " " + valid + " ", body, secret, nil},
		{"missing", "", body, secret, ErrSignatureMissing},
		{"sha1 header value", "sha1=" + strings.Repeat("a", 40), body, secret, ErrSignatureMalformed},
		{"no prefix", valid[7:], body, secret, ErrSignatureMalformed},
		{"short", valid[:70], body, secret, ErrSignatureMalformed},
		{"long", valid + "0", body, secret, ErrSignatureMalformed},
		{"not hex", "sha256=" + strings.Repeat("z", 64), body, secret, ErrSignatureMalformed},
		{"one digit off", valid[:70] + "c", body, secret, ErrSignatureMismatch},
		{"other body", valid, []byte("hello "), secret, ErrSignatureMismatch},
		{"other secret", valid, body, secret + "x", ErrSignatureMismatch},
		{"no secret configured", valid, body, "", ErrNoAppSecret},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckSignature(tc.header, tc.body, tc.secret); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Errorf("CheckSignature = %v, want %v", err, tc.want)
			}
		})
	}
	if got := SignatureHeaderValue(body, secret); got != valid {
		t.Errorf("SignatureHeaderValue = %s, want %s", got, valid)
	}
}

// TestSignatureOverRawEscapedBytes proves that the raw bytes are signed: the recorded body
// carries its non-ASCII text as \uXXXX escapes (and "/" as "\/"), as Meta sends it. The
// signature Meta would send (computed here with openssl over the file) matches the raw bytes,
// and no longer matches once the same JSON is decoded and re-encoded.
func TestSignatureOverRawEscapedBytes(t *testing.T) {
	const secret = "d41d8cd98f00b204e9800998ecf8427e"
	// openssl dgst -sha256 -hmac d41d8cd98f00b204e9800998ecf8427e testdata/webhooks/whatsapp/unicode_escaped.json
	const metaHeader = "sha256=4e9104f008707605bc72ecf0a90da78f132c65d1c91afe4736dabb12adc0cebd"
	raw, err := os.ReadFile("../../testdata/webhooks/whatsapp/unicode_escaped.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(raw, []byte(`\u00e4\u00f6\u00e5`)) || !bytes.Contains(raw, []byte(`\ud83d\ude00`)) {
		t.Fatal("recorded body lost its escaped-unicode form")
	}
	for _, c := range raw {
		if c >= 0x80 {
			t.Fatal("recorded body must be pure ASCII, as Meta sends it")
		}
	}
	if err := CheckSignature(metaHeader, raw, secret); err != nil {
		t.Fatalf("raw bytes: %v", err)
	}

	// The same document, decoded and re-encoded by encoding/json: equal as JSON, different bytes.
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	reencoded, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(reencoded, raw) {
		t.Fatal("re-encoding did not change the bytes; the test proves nothing")
	}
	if err := CheckSignature(metaHeader, reencoded, secret); !errors.Is(err, ErrSignatureMismatch) {
		t.Errorf("re-encoded JSON: %v, want ErrSignatureMismatch", err)
	}

}
