package engine

func init() {
	registerNode(nodeSpec[EndConfig]{Name: "end", SchemaDef: "endConfig", Schema: endSchema, NoNext: true,
		Compile: func(*nodeCompiler, *EndConfig) step { return endStep{} }})
}

// EndConfig is the config of an end node: nothing.
type EndConfig struct{}

const endSchema = `{
  "type": "object",
  "description": "An end node takes no config.",
  "maxProperties": 0
}`
