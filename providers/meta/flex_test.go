package meta

import (
	"encoding/json"
	"testing"
	"time"
)

// TestParseTimestampUnits checks the seconds/milliseconds rule at its edges.
func TestParseTimestampUnits(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"1749416383", time.Unix(1749416383, 0).UTC()},
		{"1749416383123", time.UnixMilli(1749416383123).UTC()},
		{"99999999999", time.Unix(99999999999, 0).UTC()},     // just below the threshold: seconds
		{"100000000000", time.UnixMilli(100000000000).UTC()}, // at the threshold: milliseconds
		{"0", time.Time{}},
		{"-5", time.Time{}},
		{"", time.Time{}},
		{"1e400", time.Time{}},
		{"99999999999999999999", time.Time{}},
	} {
		if got := ParseUnix(tc.in); !got.Equal(tc.want) {
			t.Errorf("ParseUnix(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzFlexString checks the lenient scalar against encoding/json: for every valid JSON string
// token it must give exactly what json.Unmarshal gives (escapes, invalid UTF-8 and all).
func FuzzFlexString(f *testing.F) {
	for _, s := range []string{`"16505551234"`, `"caf\u00e9"`, `"a\/b"`, "\"\xff\xfe\"", `""`, `"tab	in"`, `"\ud83d\ude00"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want string
		if len(b) == 0 || b[0] != '"' || json.Unmarshal(b, &want) != nil {
			return
		}
		var got FlexString
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("FlexString refused %q: %v", b, err)
		}
		if string(got) != want {
			t.Fatalf("FlexString(%q) = %q, encoding/json says %q", b, got, want)
		}
	})
}
