package secret_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/internal/secret"
)

const value = "EAAG-very-secret-token-0123456789"

// config is how secrets are held in practice: fields of a larger struct.
type config struct {
	Name   string
	Token  secret.String
	Secret *secret.String
	Nested struct{ Key secret.String }
	Map    map[string]secret.String
	List   []secret.String
}

func newConfig() config {
	s := secret.String(value)
	c := config{Name: "acme", Token: secret.String(value), Secret: &s, Map: map[string]secret.String{"k": value}, List: []secret.String{value}}
	c.Nested.Key = value
	return c
}

func TestRevealAndEqual(t *testing.T) {
	s := secret.String(value)
	if s.Reveal() != value {
		t.Errorf("Reveal = %q", s.Reveal())
	}
	if !s.Equal(value) || s.Equal(value+"x") || s.Equal("") {
		t.Error("Equal compares wrong")
	}
	var none secret.String
	if !none.IsZero() || none.Equal("") {
		t.Error("an empty secret must equal nothing")
	}
}

func TestFmtNeverPrintsTheValue(t *testing.T) {
	s := secret.String(value)
	c := newConfig()
	for _, verb := range []string{"%v", "%s", "%+v", "%#v", "%q", "%x", "%X", "%d", "%10s", "%-20v", "%T"} {
		for _, arg := range []any{s, &s, c, &c, []secret.String{s}, map[string]any{"t": s}, errors.New("x")} {
			got := fmt.Sprintf(verb, arg)
			if strings.Contains(got, value) || strings.Contains(got, fmt.Sprintf("%x", value)) {
				t.Errorf("fmt %s of %T printed the value: %s", verb, arg, got)
			}
		}
	}
	if got := fmt.Sprint(s); got != secret.Redacted {
		t.Errorf("Sprint = %q", got)
	}
	if got := fmt.Sprintf("%#v", s); got != secret.Redacted {
		t.Errorf("%%#v = %q", got)
	}
	if got := s.String(); got != secret.Redacted {
		t.Errorf("String = %q", got)
	}
	if got := s.GoString(); got != secret.Redacted {
		t.Errorf("GoString = %q", got)
	}
}

func TestJSONNeverPrintsTheValue(t *testing.T) {
	c := newConfig()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(value)) {
		t.Fatalf("json: %s", b)
	}
	if !bytes.Contains(b, []byte(`"Token":"[redacted]"`)) {
		t.Errorf("json: %s", b)
	}
	// Decoding is unaffected: a config file holds the plain value.
	var back struct{ Token secret.String }
	if err := json.Unmarshal([]byte(`{"Token":"`+value+`"}`), &back); err != nil || back.Token.Reveal() != value {
		t.Errorf("decode: %q, %v", back.Token.Reveal(), err)
	}
}

func TestSlogNeverPrintsTheValue(t *testing.T) {
	s := secret.String(value)
	c := newConfig()
	for name, mk := range map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(mk(&buf))
		log.Info("secret", "token", s, "ptr", &s, "config", c, "configptr", &c)
		log.Info("group", slog.Group("g", slog.Any("token", s)), slog.String("as", fmt.Sprint(s)))
		log.With("token", s).Info("with")
		out := buf.String()
		if strings.Contains(out, value) {
			t.Errorf("%s handler printed the value:\n%s", name, out)
		}
		if !strings.Contains(out, secret.Redacted) {
			t.Errorf("%s handler: no %s in\n%s", name, secret.Redacted, out)
		}
	}
}
