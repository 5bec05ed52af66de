package engine

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
)

// fullState sets every field, with vars of every kind the codec stores and a held message of
// every kind.
func fullState() *State {
	return &State{
		Flow: "onboarding", Node: "get_email", Handoff: "support", Name: "Ann",
		Vars: map[string]any{
			"name": "Ann", "empty": "", "age": 42, "neg": -7, "big": 1 << 40, "ratio": 0.25,
			"yes": true, "no": false, "nothing": nil,
			"list":    []any{"a", 1, 2.5, nil, []any{true}},
			"order":   map[string]any{"id": "A-1", "items": []any{map[string]any{"sku": "tea", "qty": 2}}},
			"emoji":   "Olá 👋",
			"wait":    90 * time.Minute,
			"visit":   time.Date(2026, 1, 20, 14, 0, 0, 0, time.UTC),
			"history": []any{time.Date(2026, 1, 5, 9, 0, 0, 0, time.FixedZone("", 3600)), -time.Second},
		},
		LastMessageTime: 1750000000, WindowClosed: true, OptedOut: true, Attempts: 2,
		Timeout: 1750000600, Active: 1750000100,
		Outbox: []Sent{{ID: "wamid.1", Flow: "onboarding", Node: "welcome", Status: "read"}, {ID: "wamid.2", Status: "sent"}},
		Held:   heldOfEveryKind(),
		Phone:  "16505551234", UserID: "US.13491208655302741918", Username: "kfisher", Linked: 1750000100,
	}
}

// TestEncodeIdentityVersion: only a state that knows the user's identity needs version 3; the
// others stay readable by the release before.
func TestEncodeIdentityVersion(t *testing.T) {
	for _, tc := range []struct {
		st   State
		want byte
	}{
		{State{Flow: "f"}, stateVersionOld},
		{State{Held: heldOfEveryKind()}, stateVersion},
		{State{Flow: "f", UserID: "US.1"}, stateVersionIdentity},
		{State{Held: heldOfEveryKind(), Phone: "1555"}, stateVersionIdentity},
		{State{Linked: 1}, stateVersionIdentity},
	} {
		b, err := tc.st.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != tc.want {
			t.Errorf("%+v encoded as version %d, want %d", tc.st, b[0], tc.want)
		}
		got, err := DecodeState(b)
		if err != nil {
			t.Fatal(err)
		}
		if got.Phone != tc.st.Phone || got.UserID != tc.st.UserID || got.Linked != tc.st.Linked || len(got.Held) != len(tc.st.Held) {
			t.Errorf("round trip of %+v: %+v", tc.st, got)
		}
	}
}

// heldOfEveryKind is one held message of each free-form kind, every field set.
func heldOfEveryKind() []Held {
	media := &msg.OutMedia{Type: "document", Link: "https://example.com/i.pdf", ID: "m1", Caption: "Invoice", Filename: "i.pdf"}
	ms := []msg.Message{
		{Text: &msg.Text{Body: "Your order shipped", PreviewURL: true}, ReplyTo: "wamid.in", NoRetryOnRateLimit: true},
		{Interactive: &msg.Interactive{Type: "button", Header: &msg.Header{Type: "image", Text: "t", Media: media}, Body: "Track it?", Footer: "f",
			Buttons: []msg.Button{{ID: "yes", Title: "Yes"}, {ID: "no", Title: "No"}}}},
		{Interactive: &msg.Interactive{Type: "list", Header: &msg.Header{Type: "text", Text: "Topics"}, Body: "Pick one", ListButton: "Choose",
			Sections: []msg.Section{{Title: "Orders", Rows: []msg.Row{{ID: "r1", Title: "Track", Description: "Where it is"}}}, {Title: "Empty"}}}},
		{Interactive: &msg.Interactive{Type: "button", Body: "No header", Buttons: []msg.Button{{ID: "a", Title: "A"}}}},
		{Media: media, Tag: "HUMAN_AGENT"},
		{Location: &msg.Location{Latitude: 37.44, Longitude: -122.16, Name: "Acme", Address: "101 Forest Ave"}},
		{Reaction: &msg.Reaction{MessageID: "wamid.in", Emoji: "👍"}},
	}
	held := make([]Held, len(ms))
	for i, m := range ms {
		held[i] = Held{Send: Send{Message: m, Flow: "order_shipped", Node: "n" + itoa(i)}, At: 1750000000 + int64(i)}
	}
	return held
}

func TestStateRoundTrip(t *testing.T) {
	st := fullState()
	b, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != stateVersionIdentity {
		t.Errorf("version %d, want %d", b[0], stateVersionIdentity)
	}
	got, err := DecodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := fullState(); !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %#v\nwant %#v", got, want)
	}
	again, err := got.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, b) {
		t.Error("equal states encode differently")
	}
}

// TestValueRoundTrip stores each kind of value an expression, an http node, the start API or a
// flow's vars can produce, and reads it back with its type. Other Go types of the same kind
// come back as the kind Storable keeps them as.
func TestValueRoundTrip(t *testing.T) {
	paris := time.FixedZone("", 3600)
	for _, tc := range []struct {
		name    string
		in, out any // out nil: in comes back as it is
	}{
		{name: "string", in: "Olá 👋"},
		{name: "empty string", in: ""},
		{name: "int", in: 42},
		{name: "negative int", in: -1 << 62},
		{name: "int64 (now, Unix())", in: int64(1750000000), out: 1750000000},
		{name: "int32", in: int32(-5), out: -5},
		{name: "uint8", in: uint8(200), out: 200},
		{name: "float", in: 0.1},
		{name: "float32", in: float32(0.5), out: 0.5},
		{name: "whole float stays a float", in: 3.0},
		{name: "infinity", in: math.Inf(-1)},
		{name: "true", in: true},
		{name: "false", in: false},
		{name: "nil", in: nil},
		{name: "list", in: []any{"a", 1, 2.5, nil, true, []any{}}},
		{name: "empty list", in: []any{}},
		{name: "list of strings (split)", in: []string{"a", "b"}, out: []any{"a", "b"}},
		{name: "list of ints (1..3)", in: []int{1, 2, 3}, out: []any{1, 2, 3}},
		{name: "list of pairs (toPairs)", in: [][2]any{{"a", 1}}, out: []any{[]any{"a", 1}}},
		{name: "map", in: map[string]any{"status": 200, "body": map[string]any{"state": "shipped", "items": []any{1.5}}}},
		{name: "empty map", in: map[string]any{}},
		{name: "map of strings", in: map[string]string{"k": "v"}, out: map[string]any{"k": "v"}},
		{name: "map with string keys (groupBy)", in: map[any][]any{"a": {1}}, out: map[string]any{"a": []any{1}}},
		{name: "duration", in: 90 * time.Minute},
		{name: "negative duration", in: -time.Nanosecond},
		{name: "time in UTC", in: time.Date(2026, 1, 20, 14, 0, 0, 0, time.UTC)},
		{name: "time with an offset", in: time.Date(2026, 1, 20, 14, 0, 0, 123456789, paris)},
		{name: "zero time", in: time.Time{}},
		{name: "times and durations in a list", in: []any{time.Date(2026, 1, 20, 14, 0, 0, 0, time.UTC), time.Hour}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.out
			if want == nil {
				want = tc.in
			}
			b, err := (&State{Vars: map[string]any{"v": tc.in}}).Encode()
			if err != nil {
				t.Fatal(err)
			}
			st, err := DecodeState(b)
			if err != nil {
				t.Fatal(err)
			}
			got := st.Vars["v"]
			if !reflect.DeepEqual(got, want) {
				t.Errorf("stored %#v (%T), read %#v (%T), want %#v (%T)", tc.in, tc.in, got, got, want, want)
			}
			if s, err := Storable(tc.in); err != nil || !reflect.DeepEqual(s, want) {
				t.Errorf("Storable = %#v, %v; want what the state reads back", s, err)
			}
		})
	}
}

// TestStorableRefuses: a value a variable cannot keep is an error, not a changed value.
func TestStorableRefuses(t *testing.T) {
	deep := any(1)
	for range maxDepth + 2 {
		deep = []any{deep}
	}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"a month (date.Month())", time.March, "time.Month cannot be kept"},
		{"a location (timezone())", time.UTC, "*time.Location cannot be kept"},
		{"an environment struct (button)", ButtonEnv{ID: "x"}, "type button cannot be kept"},
		{"a function", func() {}, "func() cannot be kept"},
		{"a map with bool keys (groupBy)", map[any][]any{true: {1}}, "a map with bool keys cannot be kept"},
		{"inside a list", []any{1, time.March}, "[1]: a value of type time.Month"},
		{"inside a map", map[string]any{"a": map[string]any{"m": time.March}}, "a: m: a value of type time.Month"},
		{"an unsigned integer beyond int", uint64(math.MaxUint64), "too large"},
		{"too deep", deep, "nested deeper than 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Storable(tc.v); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Storable(%T) error = %v, want one containing %q", tc.v, err, tc.want)
			}
			if _, err := (&State{Vars: map[string]any{"v": tc.v}}).Encode(); err == nil {
				t.Errorf("Encode stored a %T", tc.v)
			}
		})
	}
}

// TestEncodeWritesVersion1WhenItFits: a state without held messages, durations or times is
// written as version 1, which the previous release reads; the rest needs version 2.
func TestEncodeWritesVersion1WhenItFits(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   State
		want byte
	}{
		{"empty", State{}, 1},
		{"version 1 values", *v1StateNative(), 1},
		{"a duration", State{Vars: map[string]any{"d": time.Hour}}, 2},
		{"a time in a map", State{Vars: map[string]any{"m": map[string]any{"t": time.Unix(0, 0).UTC()}}}, 2},
		{"a held message", State{Held: heldOfEveryKind()[:1]}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.st.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != tc.want {
				t.Errorf("version %d, want %d", b[0], tc.want)
			}
			got, err := DecodeState(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, &tc.st) {
				t.Errorf("round trip:\n got %#v\nwant %#v", got, &tc.st)
			}
		})
	}
}

func TestDecodeStateEmpty(t *testing.T) {
	st, err := DecodeState(nil)
	if err != nil || !reflect.DeepEqual(st, &State{}) {
		t.Errorf("DecodeState(nil) = %#v, %v; want a new conversation", st, err)
	}
	b, err := (&State{}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if st, err := DecodeState(b); err != nil || !reflect.DeepEqual(st, &State{}) {
		t.Errorf("empty state round trip = %#v, %v", st, err)
	}
}

func TestDecodeStateTruncated(t *testing.T) {
	b, err := fullState().Encode()
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < len(b); n++ {
		if st, err := DecodeState(b[:n]); err == nil {
			t.Fatalf("DecodeState of the first %d of %d bytes = %+v, want an error", n, len(b), st)
		}
	}
}

func TestDecodeStateVersion(t *testing.T) {
	b, _ := (&State{Flow: "f"}).Encode()
	b[0] = stateVersionIdentity + 1
	if _, err := DecodeState(b); err == nil || !strings.Contains(err.Error(), "unknown version 4") {
		t.Errorf("version 4 decoded: %v", err)
	}
	// Version 1 had no duration or time values: a version 1 state with one is corrupt.
	b, _ = (&State{Vars: map[string]any{"d": time.Hour}}).Encode()
	b[0] = stateVersionOld
	if _, err := DecodeState(b); err == nil {
		t.Error("a duration in a version 1 state decoded")
	}
	b, _ = (&State{Flow: "f"}).Encode()
	if _, err := DecodeState(append(b, 0)); err == nil {
		t.Error("a state with a byte after its end decoded")
	}
}

// TestIdleStateSize: an idle conversation's state stays under 1 KB, with
// a few variables and a full outbox.
func TestIdleStateSize(t *testing.T) {
	st := &State{
		Vars: map[string]any{
			"name": "Ann Smith", "email": "ann.smith@example.com", "order_id": "A-104277",
			"greeting": "Welcome, Ann Smith", "onboarded_at": 1750000000,
			"order": map[string]any{"status": 200, "body": map[string]any{"state": "shipped", "eta": "2025-06-20"}},
		},
		LastMessageTime: 1750000000, Active: 1750000100,
	}
	for i := 0; i < maxOutbox+3; i++ {
		// A real wamid is about 60 characters.
		st.RecordSent("wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0I0Q0Q1RkU"+string(rune('A'+i)), Send{Flow: "handle_button", Node: "show_status"})
	}
	if len(st.Outbox) != maxOutbox || st.Outbox[0].ID[len(st.Outbox[0].ID)-1] != 'D' {
		t.Errorf("outbox holds %d starting at %s, want the last %d", len(st.Outbox), st.Outbox[0].ID, maxOutbox)
	}
	b, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) >= 1024 {
		t.Errorf("idle state is %d bytes, want under 1 KB", len(b))
	}
	t.Logf("idle state: %d bytes", len(b))
}
