// Package version says which build of Flowgate is running, the same way for every binary.
package version

import "runtime/debug"

// String is the version of the running binary, read from its build information: the module
// version it was built at (v1.4.0 for go install ...@v1.4.0, a pseudo-version for a build from
// a git checkout), or "(devel)" when the build recorded none.
func String() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
