package engine

// quietRank orders the trace entries that can explain why an event sent nothing: the entry of
// the highest rank explains it, the last one among equals. An opt-out explains more than the
// held messages it drops; a closed window more than the wait the run reached after the message
// it stopped. Kinds of rank 0 explain nothing on their own (a trigger, an http call that
// worked, a missing variable); kinds the engine does not know (the host's, such as duplicate)
// rank lowest.
func quietRank(k TraceKind) int {
	switch k {
	case TraceSuppressed, TraceOptOut:
		return 13
	case TraceHandoff:
		return 12
	case TraceWindowClosed:
		return 11
	case TraceLoop, TraceBudget:
		return 10
	case TraceError:
		return 9
	case TraceInvalid:
		return 8
	case TraceTimeout:
		return 7
	case TraceIgnored:
		return 6
	case TraceExpired:
		return 5
	case TraceWait:
		return 4
	case TraceHeld, TraceStatus:
		return 3
	case TraceNode, TraceResume:
		return 2
	case TraceTrigger, TraceSend, TraceFallback, TraceOptIn, TraceAgent, TraceHTTP, TraceMissingVar, TraceStateReset, TraceLimit:
		return 0
	}
	return 1
}

// Quiet is the one line that says why the event with this trace sent nothing: "no trigger
// matched "hello again"", "opted out: no flow runs", "check_window/reply: text message not
// sent: window closed and no fallback template", an http error, the step limit, the expression
// budget. It is "" when
// the trace shows a message going out, or when it explains nothing (an empty trace).
func Quiet(trace []TraceEntry) string {
	best, rank := -1, 0
	for i, e := range trace {
		if e.Kind == TraceSend {
			return ""
		}
		if r := quietRank(e.Kind); r > 0 && r >= rank {
			best, rank = i, r
		}
	}
	if best < 0 {
		return ""
	}
	return oneLine(quietReason(trace[best]))
}

// quietReason phrases one trace entry as the reason nothing was sent.
func quietReason(e TraceEntry) string {
	at := ""
	if e.Node != "" {
		at = e.Node + ": "
	}
	switch e.Kind {
	case TraceSuppressed, TraceIgnored:
		return e.Detail
	case TraceOptOut:
		return "opted out (" + e.Detail + "); no opt-out confirmation is set"
	case TraceHandoff:
		if e.Node == "" {
			return e.Detail
		}
		return "handed off to a human agent at " + e.Node + " (" + e.Detail + ") without a message"
	case TraceWindowClosed, TraceHeld, TraceBudget:
		return at + e.Detail
	case TraceLoop:
		return "step limit reached at " + at + e.Detail
	case TraceError:
		return "error at " + at + e.Detail
	case TraceInvalid:
		return "invalid answer at " + at + e.Detail
	case TraceTimeout:
		return "input timed out at " + at + e.Detail
	case TraceExpired:
		return "session expired at " + at + e.Detail
	case TraceWait:
		return "waiting for input at " + e.Node
	case TraceStatus:
		return "a delivery status, not a message: " + at + e.Detail
	case TraceNode:
		return "the run ended at " + e.Node + " (" + e.Detail + " node) without a message"
	case TraceResume:
		return "the run ended after the answer at " + at + e.Detail
	}
	return e.String()
}
