// Package examples embeds the example rules repo (rules/) and apps (apps/<name>/), so that
// `bot dev` can seed its sandbox when it runs outside a Scorebot checkout. It holds data only:
// no logic, and nothing reads it but the sandbox's seeding.
package examples

import (
	"embed"
	"io/fs"
)

//go:embed rules apps
var files embed.FS

// FS returns the examples: rules/ and apps/<name>/, as in this folder.
func FS() fs.FS { return files }
