// Package frontend is the dashboard's production build, embedded into the pulse binary.
// dist/ is made by `npm ci && npm run build` in this directory; only dist/.gitkeep is
// committed, so a fresh clone compiles and serves a page saying how to build the app.
package frontend

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var files embed.FS

// Dist is the built app rooted at dist/ (index.html, assets/…).
func Dist() fs.FS {
	sub, err := fs.Sub(files, "dist")
	if err != nil { // "dist" is a valid path in an embed.FS: cannot happen
		return files
	}
	return sub
}
