package engine

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// The state codec is a compact binary format, several times faster than JSON for the small
// states that every event decodes and encodes (the engine step benchmark counts them).
//
// Layout: the version byte; the strings Flow, Node, Handoff, Name; the varints
// LastMessageTime, Timeout, Active, Attempts; a flags byte; Vars as a count and key/value
// pairs; Outbox as a count and ID/Flow/Node/Status strings; from version 2, Held as a count
// and, for each, At (varint), Flow, Node and the message (see appendMessage). Strings are a
// uvarint length and bytes. Values carry a tag byte (see the val* constants).
//
// Version 3 adds, after Held, the user's identity: the strings Phone, UserID, Username and the
// varint Linked. It is written only for a state that has one of them (WhatsApp users with a
// business-scoped user id), so that version 2 stays readable by the release before.
//
// Version 1 had no Held and no duration or time values, and stored values of other types as
// JSON (valJSON), which changed their types. Version 2 stores every type a variable may hold
// (see Storable) with its own tag and refuses the rest. Encode writes version 1 whenever the
// state fits it, so that a release that reads only version 1 (the one before, after a
// rollback, or still running during a rolling deploy) can read every conversation that holds
// no message and no duration or time. DecodeState reads both.
const (
	stateVersionIdentity = 3
	stateVersion         = 2
	stateVersionOld      = 1
)

const (
	valNil byte = iota
	valFalse
	valTrue
	valInt
	valFloat
	valString
	valList
	valMap
	valJSON     // version 1 only: a value of another type, as JSON
	valDuration // nanoseconds, varint
	valTime     // time.Time.MarshalBinary, as a string
)

const (
	flagWindowClosed = 1 << iota
	flagOptedOut
)

// encoder writes the state format, noting whether what it wrote needs version 2.
type encoder struct {
	b  []byte
	v2 bool
}

// Encode serializes the state compactly. A variable is written as Storable keeps it; one that
// Storable refuses (the engine never stores one) fails the encoding, and the caller keeps the
// state it had.
func (s *State) Encode() ([]byte, error) {
	e := encoder{b: make([]byte, 0, 64+len(s.Vars)*24+len(s.Outbox)*48+len(s.Held)*128)}
	e.b = append(e.b, stateVersionOld)
	e.string(s.Flow)
	e.string(s.Node)
	e.string(s.Handoff)
	e.string(s.Name)
	e.b = binary.AppendVarint(e.b, s.LastMessageTime)
	e.b = binary.AppendVarint(e.b, s.Timeout)
	e.b = binary.AppendVarint(e.b, s.Active)
	e.b = binary.AppendVarint(e.b, int64(s.Attempts))
	var flags byte
	if s.WindowClosed {
		flags |= flagWindowClosed
	}
	if s.OptedOut {
		flags |= flagOptedOut
	}
	e.b = append(e.b, flags)
	if err := e.vars(s.Vars, 0); err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	e.b = binary.AppendUvarint(e.b, uint64(len(s.Outbox)))
	for _, o := range s.Outbox {
		e.string(o.ID)
		e.string(o.Flow)
		e.string(o.Node)
		e.string(o.Status)
	}
	if len(s.Held) > 0 {
		e.v2 = true
		e.b = binary.AppendUvarint(e.b, uint64(len(s.Held)))
		for _, h := range s.Held {
			e.b = binary.AppendVarint(e.b, h.At)
			e.string(h.Flow)
			e.string(h.Node)
			if err := e.message(&h.Message); err != nil {
				return nil, fmt.Errorf("encode state: held message from %s/%s: %w", h.Flow, h.Node, err)
			}
		}
	}
	identity := s.Phone != "" || s.UserID != "" || s.Username != "" || s.Linked != 0
	if e.v2 || identity {
		e.b[0] = stateVersion
		if len(s.Held) == 0 {
			e.b = append(e.b, 0) // no held messages
		}
	}
	if identity {
		e.b[0] = stateVersionIdentity
		e.string(s.Phone)
		e.string(s.UserID)
		e.string(s.Username)
		e.b = binary.AppendVarint(e.b, s.Linked)
	}
	return e.b, nil
}

// DecodeState reads a state written by Encode, of the current or the previous version. Empty
// input is a new conversation.
func DecodeState(b []byte) (*State, error) {
	s := &State{}
	if len(b) == 0 {
		return s, nil
	}
	d := decoder{b: b}
	d.version = d.byte()
	if d.version < stateVersionOld || d.version > stateVersionIdentity {
		return nil, fmt.Errorf("decode state: unknown version %d (this release reads %d to %d)", d.version, stateVersionOld, stateVersionIdentity)
	}
	s.Flow, s.Node, s.Handoff, s.Name = d.string(), d.string(), d.string(), d.string()
	s.LastMessageTime, s.Timeout, s.Active = d.varint(), d.varint(), d.varint()
	s.Attempts = int(d.varint())
	flags := d.byte()
	s.WindowClosed, s.OptedOut = flags&flagWindowClosed != 0, flags&flagOptedOut != 0
	if n := d.count(); n > 0 {
		s.Vars = make(map[string]any, n)
		for i := 0; i < n && d.err == nil; i++ {
			k := d.string()
			s.Vars[k] = d.value(0)
		}
	}
	if n := d.count(); n > 0 {
		s.Outbox = make([]Sent, n)
		for i := range s.Outbox {
			s.Outbox[i] = Sent{ID: d.string(), Flow: d.string(), Node: d.string(), Status: d.string()}
		}
	}
	if d.version >= 2 {
		if n := d.count(); n > 0 {
			s.Held = make([]Held, n)
			for i := 0; i < n && d.err == nil; i++ {
				h := &s.Held[i]
				h.At = d.varint()
				h.Flow, h.Node = d.string(), d.string()
				h.Message = d.message()
			}
		}
	}
	if d.version >= stateVersionIdentity {
		s.Phone, s.UserID, s.Username = d.string(), d.string(), d.string()
		s.Linked = d.varint()
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail(fmt.Errorf("%d bytes after the end", len(d.b)))
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode state: version %d: %w", d.version, d.err)
	}
	return s, nil
}

// ResumeState decodes a stored state to handle an event with. A state that cannot be decoded
// (a newer version left by a release that was rolled back, a truncated value) would fail every
// later event of its conversation; instead the conversation starts over with a new State, and
// reset is the trace entry that says so, with the reason (nil when the state decoded).
func ResumeState(b []byte) (st *State, reset *TraceEntry) {
	st, err := DecodeState(b)
	if err == nil {
		return st, nil
	}
	return &State{}, &TraceEntry{Kind: TraceStateReset, Detail: "unreadable state dropped, the conversation starts over: " + err.Error()}
}

func (e *encoder) string(s string) {
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) float(f float64) {
	e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(f))
}

// vars writes a map with its keys sorted, so that equal states encode equally.
func (e *encoder) vars(m map[string]any, depth int) error {
	e.b = binary.AppendUvarint(e.b, uint64(len(m)))
	if len(m) == 0 {
		return nil
	}
	var one [1]string
	keys := one[:0]
	if len(m) > 1 {
		keys = make([]string, 0, len(m))
	}
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e.string(k)
		if err := e.value(m[k], depth); err != nil {
			if depth == 0 {
				return fmt.Errorf("vars.%s: %w", k, err)
			}
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}

// value writes one value of a type Storable returns; any other type is an error.
func (e *encoder) value(v any, depth int) error {
	if depth > maxDepth {
		return errTooDeep
	}
	switch x := v.(type) {
	case nil:
		e.b = append(e.b, valNil)
	case bool:
		if x {
			e.b = append(e.b, valTrue)
		} else {
			e.b = append(e.b, valFalse)
		}
	case int:
		e.b = binary.AppendVarint(append(e.b, valInt), int64(x))
	case float64:
		e.b = append(e.b, valFloat)
		e.float(x)
	case string:
		e.b = append(e.b, valString)
		e.string(x)
	case time.Duration:
		e.v2 = true
		e.b = binary.AppendVarint(append(e.b, valDuration), int64(x))
	case time.Time:
		t, err := x.MarshalBinary()
		if err != nil {
			return err
		}
		e.v2 = true
		e.b = append(e.b, valTime)
		e.string(string(t))
	case []any:
		e.b = binary.AppendUvarint(append(e.b, valList), uint64(len(x)))
		for i, el := range x {
			if err := e.value(el, depth+1); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
	case map[string]any:
		e.b = append(e.b, valMap)
		return e.vars(x, depth+1)
	default:
		// Another integer, float, list or map type: stored as Storable would have kept it.
		s, err := Storable(v)
		if err != nil {
			return err
		}
		return e.value(s, depth)
	}
	return nil
}

// decoder reads the state format, remembering the first error.
type decoder struct {
	b       []byte
	version byte
	err     error
}

var (
	errShort   = errors.New("truncated")
	errTooDeep = fmt.Errorf("values nested deeper than %d", maxDepth)
)

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail(errShort)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bool() bool {
	switch d.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail(errors.New("bad boolean"))
	return false
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) float() float64 {
	if len(d.b) < 8 {
		d.fail(errShort)
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return f
}

// count reads a length, refusing one larger than the bytes left could hold.
func (d *decoder) count() int {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || v > uint64(len(d.b)) {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

func (d *decoder) string() string {
	n := d.count()
	if n > len(d.b) {
		d.fail(errShort)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// maxDepth bounds nesting, so that hostile input cannot exhaust the stack.
const maxDepth = 64

func (d *decoder) value(depth int) any {
	if depth > maxDepth {
		d.fail(errTooDeep)
		return nil
	}
	switch t := d.byte(); {
	case t == valNil:
		return nil
	case t == valFalse:
		return false
	case t == valTrue:
		return true
	case t == valInt:
		return int(d.varint())
	case t == valFloat:
		return d.float()
	case t == valString:
		return d.string()
	case t == valList:
		n := d.count()
		l := make([]any, n)
		for i := 0; i < n && d.err == nil; i++ {
			l[i] = d.value(depth + 1)
		}
		return l
	case t == valMap:
		n := d.count()
		m := make(map[string]any, n)
		for i := 0; i < n && d.err == nil; i++ {
			k := d.string()
			m[k] = d.value(depth + 1)
		}
		return m
	case t == valJSON && d.version == stateVersionOld:
		var v any
		if err := json.Unmarshal([]byte(d.string()), &v); err != nil {
			d.fail(err)
		}
		return v
	case t == valDuration && d.version >= 2:
		return time.Duration(d.varint())
	case t == valTime && d.version >= 2:
		var tm time.Time
		if err := tm.UnmarshalBinary([]byte(d.string())); err != nil && d.err == nil {
			d.fail(fmt.Errorf("time: %w", err))
		}
		return tm
	default:
		d.fail(fmt.Errorf("unknown value tag %d", t))
		return nil
	}
}
