package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// The figures a scenario may report, each a row of the table.
const (
	rowIngest   = "ingest"
	rowAck      = "ack"
	rowE2E      = "e2e"
	rowE2ELat   = "e2e-latency"
	rowCommands = "commands"
	rowTrips    = "round-trips"
	rowMemory   = "memory"
	rowRSS      = "rss"
)

// Outcome is one scenario run against both targets.
type Outcome struct {
	Scenario Scenario `json:"scenario"`
	Serve    *Result  `json:"gtc_serve"`
	Floor    *Result  `json:"floor,omitempty"`
}

// Report is a whole load test.
type Report struct {
	Machine  string    `json:"machine"`
	Outcomes []Outcome `json:"outcomes"`
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteMarkdown writes the report as rows of the README's performance table: each figure of
// gtc serve, the floor's, and their ratio.
func (r *Report) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "Load test (`gtc loadtest`), %s.\n\n", r.Machine)
	fmt.Fprintln(w, "| scenario | what | gtc serve | floor | ratio | target |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|")
	var lost, dup, reord int
	for _, o := range r.Outcomes {
		for _, row := range o.Scenario.rows {
			what, serve, floor, ratio := figure(row, o.Serve, o.Floor)
			if o.Floor == nil {
				floor, ratio = "—", "—" // not run: the floor speaks WhatsApp only
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", describe(o.Scenario), what, serve, floor, ratio, target(o.Scenario.Name, row))
		}
		c := o.Serve.Counts
		if o.Serve.Drained {
			lost += c.Lost
		}
		dup, reord = dup+c.Dup, reord+c.Reordered
	}
	fmt.Fprintf(w, "| all runs | lost / duplicated / reordered replies (gtc serve) | %d / %d / %d | | | 0 / 0 / 0 |\n", lost, dup, reord)
	for _, o := range r.Outcomes {
		if !o.Serve.Drained {
			fmt.Fprintf(w, "\n%s: %d accepted messages were still unanswered when the drain ended (a backlog, not counted as lost).\n", o.Scenario.Name, o.Serve.Counts.Lost)
		}
	}
}

// describe is a scenario's load in words.
func describe(s Scenario) string {
	var b strings.Builder
	channel := ""
	if s.Channel != "" {
		channel = " " + s.Channel
	}
	if s.Rate > 0 {
		fmt.Fprintf(&b, "%s: %g%s webhooks/s open loop", s.Name, s.Rate, channel)
	} else {
		fmt.Fprintf(&b, "%s: %d connections closed loop%s", s.Name, s.Connections, channel)
	}
	if s.Batch > 1 {
		fmt.Fprintf(&b, ", %d messages per body", s.Batch)
	}
	fmt.Fprintf(&b, ", %d conversations, %s", s.Conversations, s.Duration.Round(time.Second))
	if s.GraphLatency > 0 {
		fmt.Fprintf(&b, ", Graph %s", s.GraphLatency)
	} else {
		b.WriteString(", instant Graph")
	}
	return b.String()
}

// figure formats one row's values for gtc serve and the floor, and their ratio.
func figure(row string, s, f *Result) (what, serve, floor, ratio string) {
	if f == nil {
		f = &Result{}
	}
	r := func(a, b float64) string {
		if b == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f×", a/b)
	}
	switch row {
	case rowIngest:
		return "ingest, webhooks/s", rate(s.IngestRPS), rate(f.IngestRPS), r(s.IngestRPS, f.IngestRPS)
	case rowAck:
		return "ack p50 / p99 / max", lat3(s.AckP50, s.AckP99, s.AckMax), lat3(f.AckP50, f.AckP99, f.AckMax), r(float64(s.AckP99), float64(f.AckP99)) + " (p99)"
	case rowE2E:
		return "end to end, events/s", rate(s.E2ERate), rate(f.E2ERate), r(s.E2ERate, f.E2ERate)
	case rowE2ELat:
		return "end to end p50 / p99", ms(s.E2EP50) + " / " + ms(s.E2EP99), ms(f.E2EP50) + " / " + ms(f.E2EP99), r(float64(s.E2EP99), float64(f.E2EP99)) + " (p99)"
	case rowCommands:
		return "Redis commands (of which scripts) per event, INFO commandstats, script internals included", fmt.Sprintf("%.2f (%.2f)", s.Commands, s.Scripts), fmt.Sprintf("%.2f (%.2f)", f.Commands, f.Scripts), r(s.Commands, f.Commands)
	case rowTrips:
		return "Redis round trips per event, counted on the wire", fmt.Sprintf("%.2f", s.RoundTrips), fmt.Sprintf("%.2f", f.RoundTrips), r(s.RoundTrips, f.RoundTrips)
	case rowMemory:
		return "Redis per idle conversation: used_memory delta (MEMORY USAGE of a state)", bytesPer(s), bytesPer(f), r(s.RedisPerConv, f.RedisPerConv)
	case rowRSS:
		return "server RSS after the run", mb(s.RSS), mb(f.RSS), r(float64(s.RSS), float64(f.RSS))
	}
	return row, "", "", ""
}

func rate(v float64) string { return fmt.Sprintf("%.0f", v) }

func lat3(a, b, c time.Duration) string { return ms(a) + " / " + ms(b) + " / " + ms(c) }

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func bytesPer(r *Result) string {
	s := fmt.Sprintf("%.0f B", r.RedisPerConv)
	if r.StateBytes > 0 {
		s += fmt.Sprintf(" (%.0f B)", r.StateBytes)
	}
	return s
}

// target is the goal a row is held to, where there is one.
func target(scenario, row string) string {
	switch scenario + "/" + row {
	case "ingest/ingest":
		return "≥ 0.8× floor, ≥ 10,000/s"
	case "ack-2000/ack":
		return "p99 ≤ 5 ms"
	case "e2e-instant/e2e":
		return "≥ 0.8× floor, ≥ 3,000/s"
	case "e2e-150ms/e2e":
		return "≥ 2,000/s"
	case "p99-1000-150ms/e2e-latency", "messenger/e2e-latency", "instagram/e2e-latency":
		return "p99 ≤ 200 ms (50 ms + Graph)"
	case "round-trips/round-trips":
		return "≤ 3"
	case "memory/memory":
		return "≤ 1 KB"
	case "memory/rss":
		return "≤ 150 MB"
	}
	return "—"
}
