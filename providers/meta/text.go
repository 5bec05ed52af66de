package meta

import (
	"unicode"
	"unicode/utf8"
)

// SplitText cuts s into parts of at most limit runes. A part ends at the last line break in
// the second half of the window when there is one, else at the last whitespace, else exactly
// at the limit; the whitespace run at a cut is dropped. It never cuts inside a UTF-8 sequence.
// A text within the limit is returned as is, in a single part.
func SplitText(s string, limit int) []string { return split(s, limit, false) }

// SplitTextBytes is SplitText with the limit in bytes of UTF-8, as Instagram counts. A part
// holds at least one character even when that alone is over the limit.
func SplitTextBytes(s string, limit int) []string { return split(s, limit, true) }

// CapParts keeps at most n of the parts SplitText or SplitTextBytes made with limit: when
// there are more, the rest are dropped and the last part kept ends with …, within limit.
// n of zero or less keeps them all.
func CapParts(parts []string, n, limit int, inBytes bool) []string {
	if n <= 0 || len(parts) <= n {
		return parts
	}
	last := parts[n-1]
	for last != "" && (inBytes && len(last)+len("…") > limit || !inBytes && utf8.RuneCountInString(last)+1 > limit) {
		_, size := utf8.DecodeLastRuneInString(last)
		last = last[:len(last)-size]
	}
	return append(parts[:n-1:n-1], trimRightSpace(last)+"…")
}

func split(s string, limit int, inBytes bool) []string {
	size := utf8.RuneCountInString
	if inBytes {
		size = func(s string) int { return len(s) }
	}
	if limit <= 0 || size(s) <= limit {
		return []string{s}
	}
	var parts []string
	for s != "" {
		// end is the byte offset just after the last character within the limit, or len(s);
		// n is what those characters weigh (runes, or bytes).
		end, n := 0, 0
		lastSpace, lastBreak := -1, -1 // byte offsets of the last whitespace and line break
		for end < len(s) {
			r, sz := utf8.DecodeRuneInString(s[end:])
			w := 1
			if inBytes {
				w = sz
			}
			if n+w > limit {
				break
			}
			if unicode.IsSpace(r) {
				lastSpace = end
				if r == '\n' && n >= limit/2 {
					lastBreak = end
				}
			}
			end += sz
			n += w
		}
		if end == 0 { // one character over the limit on its own: it goes out alone
			_, end = utf8.DecodeRuneInString(s)
		}
		if end >= len(s) {
			parts = append(parts, s)
			break
		}
		// A whitespace just after the limit is as good a cut as one inside it.
		if r, _ := utf8.DecodeRuneInString(s[end:]); unicode.IsSpace(r) {
			lastSpace = end
			if r == '\n' {
				lastBreak = end
			}
		}
		at := lastSpace
		if lastBreak >= 0 {
			at = lastBreak
		}
		cut := end
		if at >= 0 {
			if head := trimRightSpace(s[:at]); head != "" {
				cut = len(head)
			}
		}
		parts = append(parts, s[:cut])
		s = trimLeftSpace(s[cut:])
	}
	return parts
}

func trimRightSpace(s string) string {
	for s != "" {
		r, size := utf8.DecodeLastRuneInString(s)
		if !unicode.IsSpace(r) {
			break
		}
		s = s[:len(s)-size]
	}
	return s
}

func trimLeftSpace(s string) string {
	for s != "" {
		r, size := utf8.DecodeRuneInString(s)
		if !unicode.IsSpace(r) {
			break
		}
		s = s[size:]
	}
	return s
}

// Truncate cuts s to at most n runes, on a rune boundary. Display labels that come from runtime
// data are truncated rather than refused: a shortened label is better than a lost message.
func Truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for k := 0; k < n; k++ {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return s[:i]
}
