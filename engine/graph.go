package engine

// Edge is one way a run can go from a node to the next, for diagrams.
type Edge struct {
	From  *Node
	To    *Node
	Label string // the condition or event that takes this edge; empty for next
}

// NodeID returns the node's id.
func (n *Node) NodeID() string { return n.ID }

// FlowName returns the name of the node's flow.
func (n *Node) FlowName() string { return n.flow.Name }

// Edges lists the edges leaving the flow's nodes, in node order. The flow must have been
// compiled by New (edges of nodes with errors are missing).
func (f *Flow) Edges() []Edge {
	var out []Edge
	for _, n := range f.Nodes {
		out = append(out, n.edges()...)
	}
	return out
}

// edges lists the ways a run can leave n. Goto edges cross flows.
func (n *Node) edges() []Edge {
	var out []Edge
	add := func(to *Node, label string) {
		if to != nil {
			out = append(out, Edge{From: n, To: to, Label: label})
		}
	}
	if n.step != nil {
		n.step.edges(add)
	}
	return out
}

// TriggerTargets lists the flow's triggers with the node each enters at.
func (f *Flow) TriggerTargets() []Edge {
	var out []Edge
	for _, t := range f.Triggers {
		if n := f.index[t.Target]; n != nil {
			label := t.Type
			switch {
			case len(t.Keywords) > 0:
				label += ": " + joinShort(t.Keywords)
			case len(t.IDs) > 0:
				label += ": " + joinShort(t.IDs)
			case t.Pattern != "":
				label += ": /" + t.Pattern + "/"
			case t.Expression != "":
				label += ": " + t.Expression
			}
			out = append(out, Edge{To: n, Label: label})
		}
	}
	return out
}

func joinShort(words []string) string {
	s := ""
	for i, w := range words {
		if i > 0 {
			s += ", "
		}
		s += w
	}
	return s
}
