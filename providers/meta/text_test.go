package meta

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestSplitText(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		limit int
		want  []string
	}{
		{"short", "hello", 10, []string{"hello"}},
		{"exact", "0123456789", 10, []string{"0123456789"}},
		{"no whitespace: hard cut", "0123456789ab", 10, []string{"0123456789", "ab"}},
		{"cut at last space", "aaa bbb ccc ddd", 10, []string{"aaa bbb", "ccc ddd"}},
		{"space right after the limit", "aaaaaaaaaa bbb", 10, []string{"aaaaaaaaaa", "bbb"}},
		{"newline run dropped at cut", "aaaa\n\n\nbbbbbbbb", 10, []string{"aaaa", "bbbbbbbb"}},
		{"runes, not bytes", "ééééé ééééé ééééé", 11, []string{"ééééé ééééé", "ééééé"}},
		{"emoji never split", "😀😀😀😀😀😀😀", 3, []string{"😀😀😀", "😀😀😀", "😀"}},
		{"only leading whitespace in window: hard cut", "    abcdefghij", 5, []string{"    a", "bcdef", "ghij"}},
		{"prefers a line break in the second half", "aaaaaa\nbb cc dd", 12, []string{"aaaaaa", "bb cc dd"}},
		{"ignores a line break in the first half", "a\nbbbbbbb ccc dd", 12, []string{"a\nbbbbbbb", "ccc dd"}},
		{"ideographic space is whitespace", "日本語\u3000日本語日本語", 6, []string{"日本語", "日本語日本語"}},
	}
	bytesTests := []struct {
		name  string
		in    string
		limit int
		want  []string
	}{
		{"ascii", "aaa bbb ccc ddd", 10, []string{"aaa bbb", "ccc ddd"}},
		{"bytes, not runes", "ééééé ééééé ééééé", 11, []string{"ééééé", "ééééé", "ééééé"}},
		{"never inside a sequence", "😀😀😀", 6, []string{"😀", "😀", "😀"}},
		{"a character over the limit goes out alone", "😀a", 2, []string{"😀", "a"}},
	}
	for _, tc := range bytesTests {
		t.Run("bytes: "+tc.name, func(t *testing.T) {
			got := SplitTextBytes(tc.in, tc.limit)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Errorf("SplitTextBytes(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
			}
		})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := SplitText(tc.in, tc.limit)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Errorf("SplitText(%q, %d) = %q, want %q", tc.in, tc.limit, got, tc.want)
			}
		})
	}
}

// FuzzSplitText checks the splitting invariants, in runes and in bytes: no part over the limit
// (but a lone character wider than it), no rune cut in two, nothing lost but the whitespace at
// the cuts.
func FuzzSplitText(f *testing.F) {
	f.Add("aaa bbb ccc ddd", 10)
	f.Add(strings.Repeat("Olá, café ☕ ", 50), 37)
	f.Add("😀😀😀😀😀😀😀", 3)
	f.Add("a\n\nb\tc\u3000d", 2)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		if limit < 1 || limit > 1<<16 {
			limit = 1 + (limit%64+64)%64
		}
		checkSplit(t, s, limit, SplitText(s, limit), utf8.RuneCountInString)
		checkSplit(t, s, limit, SplitTextBytes(s, limit), func(s string) int { return len(s) })
	})
}

// checkSplit checks the parts of s cut at limit, measured by size.
func checkSplit(t *testing.T, s string, limit int, parts []string, size func(string) int) {
	t.Helper()
	if len(parts) == 0 {
		t.Fatal("no parts")
	}
	if size(s) <= limit {
		if len(parts) != 1 || parts[0] != s {
			t.Fatalf("short text changed: %q", parts)
		}
		return
	}
	for i, p := range parts {
		if n := size(p); n == 0 || n > limit && utf8.RuneCountInString(p) > 1 {
			t.Fatalf("part %d has size %d (limit %d)", i, n, limit)
		}
		if utf8.ValidString(s) && !utf8.ValidString(p) {
			t.Fatalf("part %d is not valid UTF-8: %q", i, p)
		}
	}
	// noSpace drops whitespace runes and keeps every other byte as is: invalid UTF-8 must
	// survive byte for byte (strings.Map would turn it into U+FFFD, and two stray bytes
	// joined at a cut can form a valid rune).
	noSpace := func(s string) string {
		var b strings.Builder
		for len(s) > 0 {
			r, size := utf8.DecodeRuneInString(s)
			if !unicode.IsSpace(r) {
				b.WriteString(s[:size])
			}
			s = s[size:]
		}
		return b.String()
	}
	if noSpace(strings.Join(parts, "")) != noSpace(s) {
		t.Fatalf("text lost or changed:\n%q\n%q", s, parts)
	}
}

// TestCapParts: at most n parts are kept; when some are dropped, the last one kept ends with …
// and stays within the limit, counted in runes or bytes.
func TestCapParts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		parts   []string
		n       int
		limit   int
		inBytes bool
		want    []string
	}{
		{"fewer than n", []string{"ab", "cd"}, 4, 2, false, []string{"ab", "cd"}},
		{"no cap", []string{"ab", "cd", "ef"}, 0, 2, false, []string{"ab", "cd", "ef"}},
		{"cut in runes", []string{"abcd", "éfgh", "ijkl"}, 2, 4, false, []string{"abcd", "éfg…"}},
		{"cut in bytes", []string{"abcd", "éfgh", "ijkl"}, 2, 5, true, []string{"abcd", "é…"}},
		{"trailing space dropped", []string{"ab c", "de f", "gh"}, 1, 4, false, []string{"ab…"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CapParts(tc.parts, tc.n, tc.limit, tc.inBytes)
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("CapParts = %q, want %q", got, tc.want)
			}
		})
	}
}
