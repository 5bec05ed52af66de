package meta

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Meta's webhooks document ids and timestamps as strings, but numbers turn up in their place
// (and timestamps in milliseconds where seconds are documented). These lenient scalars read
// either, so that one odd field never makes a whole message unreadable.

// FlexString accepts a JSON string or number (or null) and keeps its text.
type FlexString string

// UnmarshalJSON reads a string, a number or null.
func (f *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	// The decoder has validated the token: a quoted string without escapes is its own text
	// (when it is valid UTF-8; otherwise json.Unmarshal substitutes U+FFFD, as elsewhere).
	if n := len(b); n >= 2 && b[0] == '"' && b[n-1] == '"' && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
		*f = FlexString(b[1 : n-1])
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = FlexString(s)
		return nil
	}
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = FlexString(n)
	return nil
}

// FlexInt accepts a JSON number or a string holding one.
type FlexInt int

// UnmarshalJSON reads a number or a string holding one.
func (f *FlexInt) UnmarshalJSON(b []byte) error {
	var s FlexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	n, err := strconv.ParseFloat(string(s), 64)
	if err != nil || n > math.MaxInt32 || n < math.MinInt32 {
		return fmt.Errorf("not an integer: %q", string(s))
	}
	*f = FlexInt(n)
	return nil
}

// FlexFloat accepts a JSON number or a string holding one.
type FlexFloat float64

// UnmarshalJSON reads a number or a string holding one.
func (f *FlexFloat) UnmarshalJSON(b []byte) error {
	var s FlexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	n, err := strconv.ParseFloat(string(s), 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return fmt.Errorf("not a number: %q", string(s))
	}
	*f = FlexFloat(n)
	return nil
}

// FlexTime is a Unix timestamp as a JSON string or number, in seconds or in milliseconds.
// Anything unreadable leaves the zero time rather than failing the message.
type FlexTime time.Time

// msThreshold separates seconds from milliseconds: 1e11 seconds is the year 5138, 1e11
// milliseconds is March 1973.
const msThreshold = 1e11

// UnmarshalJSON reads the timestamp; it never fails.
func (f *FlexTime) UnmarshalJSON(b []byte) error {
	var s FlexString
	if s.UnmarshalJSON(b) != nil || s == "" {
		return nil
	}
	*f = FlexTime(ParseUnix(string(s)))
	return nil
}

// ParseUnix reads a Unix timestamp in seconds, or in milliseconds when it is at least 1e11; an
// unreadable, non-positive or absurd one is the zero time.
func ParseUnix(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		fl, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || math.IsNaN(fl) || math.IsInf(fl, 0) || math.Abs(fl) > 1e15 {
			return time.Time{}
		}
		n = int64(fl)
	}
	if n <= 0 {
		return time.Time{}
	}
	if n >= msThreshold {
		if n > 1e15 { // beyond year 33658 even as milliseconds: garbage
			return time.Time{}
		}
		return time.UnixMilli(n).UTC()
	}
	return time.Unix(n, 0).UTC()
}
