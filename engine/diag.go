package engine

import (
	"fmt"
	"slices"
	"strings"
)

// Severity tells errors, which stop a bundle from loading, from warnings, which do not.
type Severity int

// Severities.
const (
	SevError Severity = iota
	SevWarning
)

func (s Severity) String() string {
	if s == SevWarning {
		return "warning"
	}
	return "error"
}

// Pos is a position in a source file, 1-based. A zero Line means the position is unknown.
type Pos struct {
	Line int
	Col  int
}

// Diagnostic is one problem found in a flow, templates or bundle file.
type Diagnostic struct {
	File     string
	Pos      Pos
	Severity Severity
	Message  string
}

// String renders the diagnostic as file:line:col: severity: message.
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.File)
	if d.Pos.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", d.Pos.Line, d.Pos.Col)
	}
	fmt.Fprintf(&b, ": %s: %s", d.Severity, d.Message)
	return b.String()
}

// Diagnostics is a list of problems, in the order found.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an error.
func (ds Diagnostics) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == SevError {
			return true
		}
	}
	return false
}

// Err returns the diagnostics as one error when any of them is an error, or nil.
func (ds Diagnostics) Err() error {
	if !ds.HasErrors() {
		return nil
	}
	lines := make([]string, 0, len(ds))
	for _, d := range ds {
		if d.Severity == SevError {
			lines = append(lines, d.String())
		}
	}
	return fmt.Errorf("%d error(s):\n%s", len(lines), strings.Join(lines, "\n"))
}

// diags collects diagnostics for one file.
type diags struct {
	file string
	list *Diagnostics
}

func (d diags) errorf(p Pos, format string, args ...any) {
	d.add(Diagnostic{File: d.file, Pos: p, Severity: SevError, Message: fmt.Sprintf(format, args...)})
}

func (d diags) warnf(p Pos, format string, args ...any) {
	d.add(Diagnostic{File: d.file, Pos: p, Severity: SevWarning, Message: fmt.Sprintf(format, args...)})
}

// add appends a diagnostic unless the same one is there already: a check repeated for each
// channel of a flow (a row id used twice) is one mistake, said once.
func (d diags) add(x Diagnostic) {
	if !slices.Contains(*d.list, x) {
		*d.list = append(*d.list, x)
	}
}
