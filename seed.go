// Package flowgate holds, embedded, the example flows and their flowctl test cases that ship with
// Flowgate: gtc setup seeds new bundles with them. The code lives in the packages below.
package flowgate

import (
	"embed"
	"io/fs"
)

//go:embed flows testdata/cases schema/*.json
var seed embed.FS

// Seed returns the example files: flows/*.yaml, flows/templates.yaml, testdata/cases/ (test
// cases and the recorded webhooks they replay) and the JSON Schemas editors check them with.
func Seed() fs.FS {
	return seed
}
