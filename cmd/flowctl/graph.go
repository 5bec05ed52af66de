package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/flowgate/flowgate/engine"
)

// graph draws one flow as a mermaid flowchart or a Graphviz dot graph: nodes with their types,
// edges labelled with the conditions that take them, and the triggers that enter the flow.
func graph(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("flowctl graph", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "mermaid", "mermaid or dot")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: flowctl graph FLOW.yaml [--format mermaid|dot]")
		fs.PrintDefaults()
	}
	paths, err := parse(fs, args)
	if err != nil {
		return exitCode(err)
	}
	if *format != "mermaid" && *format != "dot" {
		fmt.Fprintf(stderr, "flowctl graph: --format %s: want mermaid or dot\n", *format)
		return 2
	}
	if len(paths) != 1 {
		fs.Usage()
		return 2
	}
	data, err := os.ReadFile(paths[0])
	if err != nil {
		fmt.Fprintf(stderr, "flowctl graph: %v\n", err)
		return 2
	}
	f, ds := engine.ParseFlow(paths[0], data)
	if f == nil {
		for _, d := range ds {
			fmt.Fprintln(stderr, d)
		}
		return 1
	}
	// Compile the flow alone: references to templates and other flows are not needed to draw it.
	engine.New(engine.Config{Flows: []*engine.Flow{f}, Settings: engine.DefaultSettings()})
	if *format == "dot" {
		writeDot(stdout, f)
	} else {
		writeMermaid(stdout, f)
	}
	return 0
}

func writeMermaid(w io.Writer, f *engine.Flow) {
	fmt.Fprintf(w, "flowchart TD\n")
	for _, n := range f.Nodes {
		fmt.Fprintf(w, "    %s%s\n", mermaidID(n.ID), mermaidShape(n))
	}
	for i, t := range f.TriggerTargets() {
		fmt.Fprintf(w, "    trigger%d([%q]) --> %s\n", i, t.Label, mermaidID(t.To.ID))
	}
	for _, e := range f.Edges() {
		to := mermaidID(e.To.ID)
		if e.To.FlowName() != f.Name {
			to = mermaidID(e.To.FlowName() + "__" + e.To.ID)
			fmt.Fprintf(w, "    %s[[%q]]\n", to, e.To.FlowName()+"/"+e.To.ID)
		}
		if e.Label == "" {
			fmt.Fprintf(w, "    %s --> %s\n", mermaidID(e.From.ID), to)
		} else {
			fmt.Fprintf(w, "    %s -- %q --> %s\n", mermaidID(e.From.ID), e.Label, to)
		}
	}
}

// mermaidID keeps ids mermaid accepts: letters, digits and underscores.
func mermaidID(id string) string {
	return "n_" + strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, id)
}

func mermaidShape(n *engine.Node) string {
	label := fmt.Sprintf("%q", n.ID+" ("+n.Type+")")
	switch n.Type {
	case "branch":
		return "{" + label + "}"
	case "input":
		return "[/" + label + "/]"
	case "end", "handoff", "goto":
		return "([" + label + "])"
	}
	return "[" + label + "]"
}

func writeDot(w io.Writer, f *engine.Flow) {
	fmt.Fprintf(w, "digraph %q {\n    rankdir=TB;\n    node [fontname=\"Helvetica\"];\n", f.Name)
	for _, n := range f.Nodes {
		shape := "box"
		switch n.Type {
		case "branch":
			shape = "diamond"
		case "input":
			shape = "parallelogram"
		case "end", "handoff", "goto":
			shape = "oval"
		}
		fmt.Fprintf(w, "    %q [label=%q, shape=%s];\n", n.ID, n.ID+" ("+n.Type+")", shape)
	}
	for i, t := range f.TriggerTargets() {
		fmt.Fprintf(w, "    %q [label=%q, shape=plaintext];\n    %q -> %q;\n", fmt.Sprint("trigger", i), t.Label, fmt.Sprint("trigger", i), t.To.ID)
	}
	for _, e := range f.Edges() {
		to := e.To.ID
		if e.To.FlowName() != f.Name {
			to = e.To.FlowName() + "/" + e.To.ID
		}
		if e.Label == "" {
			fmt.Fprintf(w, "    %q -> %q;\n", e.From.ID, to)
		} else {
			fmt.Fprintf(w, "    %q -> %q [label=%q];\n", e.From.ID, to, e.Label)
		}
	}
	fmt.Fprintln(w, "}")
}
