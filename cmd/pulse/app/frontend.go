package app

import (
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/frontend"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// mountFrontend serves the dashboard at / with an SPA fallback, and the pipeline endpoint the
// dashboard's Pipeline page reads. Unknown /v1 routes stay JSON 404s.
func (a *App) mountFrontend() error {
	in, err := consumers.NewInspector(a.rdb, consumers.InspectorConfig{Layout: a.layout, Logger: a.log})
	if err != nil {
		return err
	}
	a.addRunner("pipeline", in.Run)
	in.Mount(a.api.Group("", a.keys.Require(httpapi.AccessBrowser)))
	a.engine.NoRoute(spa(frontend.Dist()))
	return nil
}

// spa serves the files of dist, and index.html for every other GET outside /v1 so that client
// routes (/search, /pipeline) survive a reload. index.html is never cached (it names the
// current hashed assets); the hashed assets are cached for good.
func spa(dist fs.FS) gin.HandlerFunc {
	index, err := fs.ReadFile(dist, "index.html")
	if err != nil {
		index = notBuiltPage
	}
	files := http.FileServerFS(dist)
	return func(c *gin.Context) {
		p := c.Request.URL.Path
		if p == "/v1" || strings.HasPrefix(p, "/v1/") ||
			(c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead) {
			httpapi.NotFound(c)
			return
		}
		name := strings.TrimPrefix(path.Clean(p), "/")
		if name != "" && name != "index.html" {
			if st, err := fs.Stat(dist, name); err == nil && !st.IsDir() {
				if strings.HasPrefix(name, "assets/") {
					c.Header("Cache-Control", "public, max-age=31536000, immutable")
				}
				files.ServeHTTP(c.Writer, c.Request)
				return
			}
			// A missing file (an asset of an older build) must not come back as HTML: the
			// browser would try to run index.html as a script.
			if path.Ext(name) != "" {
				httpapi.NotFound(c)
				return
			}
		}
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, "text/html; charset=utf-8", index)
	}
}

// notBuiltPage is served at / by a binary built before the dashboard was: the API works, and
// the page says how to get the app.
var notBuiltPage = []byte(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pulse</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1d2330}
code,pre{background:#f1f3f7;border-radius:4px;padding:.1rem .3rem}pre{padding:.75rem}</style></head>
<body><h1>Pulse is running, but the dashboard is not built into this binary</h1>
<p>The API is up under <code>/v1</code>. To get the dashboard, build it and rebuild pulse:</p>
<pre>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build &amp;&amp; cd ..
go build -o bin/pulse ./cmd/pulse</pre>
<p>or simply <code>go tool task build</code> (or <code>go tool task up</code>), which does both.</p>
</body></html>
`)
