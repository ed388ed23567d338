package failures

import (
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// API limits.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
	MaxReplayIDs     = 1000
)

// API is the failure API over the stores of a deployment.
type API struct {
	rdb    redis.UniversalClient
	layout events.Layout
}

// APIConfig configures the failure API.
type APIConfig struct {
	Layout events.Layout // of the deployment (required): replays go back to the partition streams
}

// NewAPI returns the failure API on rdb.
func NewAPI(rdb redis.UniversalClient, cfg APIConfig) (*API, error) {
	if err := cfg.Layout.Check(); err != nil {
		return nil, fmt.Errorf("failure API: %w", err)
	}
	return &API{rdb: rdb, layout: cfg.Layout}, nil
}

// Mount adds GET /failures and GET /rejections to read, and POST /failures/replay to operate
// (the groups behind the caller's key checks). The replay body must be declared
// application/json, so that a cross-site form or text/plain post cannot trigger it.
func (h *API) Mount(read, operate gin.IRoutes) {
	read.GET("/failures", h.list(events.FailedStream, "failures"))
	read.GET("/rejections", h.list(events.RejectedStream, "rejections"))
	operate.POST("/failures/replay", httpapi.RequireJSON, h.replay)
}

// list answers {"<name>": [...], "next_cursor": "…"} (next_cursor "" on the last page) from
// the store: the dead letters (failures) or the rejected input (rejections).
func (h *API) list(store, name string) gin.HandlerFunc {
	return func(c *gin.Context) {
		limit := DefaultListLimit
		if s := c.Query("limit"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > MaxListLimit {
				httpapi.Abort(c, httpapi.BadParam("limit", "limit must be an integer from 1 to %d", MaxListLimit))
				return
			}
			limit = n
		}
		cursor := c.Query("cursor")
		if cursor != "" && !ValidID(cursor) {
			httpapi.Abort(c, httpapi.BadParam("cursor", "cursor must be a failure id from next_cursor"))
			return
		}
		items, next, err := List(c.Request.Context(), h.rdb, store, limit, cursor)
		if err != nil {
			httpapi.Abort(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{name: items, "next_cursor": next})
	}
}

// replayRequest is {"ids": [...]} or {"all": true}.
type replayRequest struct {
	IDs []string `json:"ids"`
	All bool     `json:"all"`
}

func (h *API) replay(c *gin.Context) {
	var req replayRequest
	if err := httpapi.DecodeJSON(io.LimitReader(c.Request.Body, 1<<20), &req, `{"ids": [...]} or {"all": true}`); err != nil {
		httpapi.Abort(c, err)
		return
	}
	if err := req.check(); err != nil {
		httpapi.Abort(c, err)
		return
	}
	var res client.ReplayResult
	var err error
	if req.All {
		res, err = ReplayAll(c.Request.Context(), h.rdb, h.layout)
	} else {
		res, err = Replay(c.Request.Context(), h.rdb, h.layout, req.IDs)
	}
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}

func (r replayRequest) check() *events.Error {
	switch {
	case r.All && len(r.IDs) > 0:
		return httpapi.BadParam("ids", "give either ids or all, not both")
	case !r.All && len(r.IDs) == 0:
		return httpapi.BadParam("ids", "give ids (failure ids from GET /v1/failures) or \"all\": true")
	case len(r.IDs) > MaxReplayIDs:
		return httpapi.BadParam("ids", "at most %d ids per request", MaxReplayIDs)
	}
	for _, id := range r.IDs {
		if !ValidID(id) {
			return httpapi.BadParam("ids", "%q is not a failure id", id)
		}
	}
	return nil
}
