// Package suggest finds the name an author most likely meant when they misspelled one: a node
// id, a field, a template, a variable.
package suggest

import "fmt"

// Closest returns the name in known nearest to word, when it is near enough to be a typo of it
// (at most one edit for words up to five letters, two for longer ones), or "". Among names
// equally near it returns the first.
func Closest(word string, known []string) string {
	limit := 1
	if len(word) > 5 {
		limit = 2
	}
	best, bestD := "", limit+1
	for _, k := range known {
		if k == word {
			continue
		}
		if d := Distance(word, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// DidYouMean is `; did you mean "NAME"?` for the name in known closest to word, or "".
func DidYouMean(word string, known []string) string {
	if s := Closest(word, known); s != "" {
		return fmt.Sprintf("; did you mean %q?", s)
	}
	return ""
}

// Distance is the Levenshtein distance between a and b, counted in bytes: the number of
// insertions, deletions and substitutions that turn one into the other.
func Distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
