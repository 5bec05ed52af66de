// Package schema embeds the JSON Schemas of Flowgate's file formats: flows, gtc setup answers and
// flowctl test cases. Editors use the same files through yaml-language-server.
package schema

import "embed"

//go:embed *.json
var files embed.FS

// Read returns the schema file with the given name, such as "flow.schema.json".
func Read(name string) ([]byte, error) {
	return files.ReadFile(name)
}
