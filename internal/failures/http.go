package failures

import (
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// API limits.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
	MaxReplayIDs     = 1000
)

// Routes mounts the failure API on r: GET /failures and GET /rejections (guarded by read) and
// POST /failures/replay (guarded by operate; the body must be declared application/json, so
// that a cross-site form or text/plain post cannot trigger it).
func Routes(r gin.IRoutes, rdb redis.UniversalClient, partitions int, read, operate gin.HandlerFunc) {
	h := handlers{rdb: rdb, partitions: partitions}
	r.GET("/failures", read, h.list(events.FailedStream, "failures"))
	r.GET("/rejections", read, h.list(events.RejectedStream, "rejections"))
	r.POST("/failures/replay", operate, httpapi.RequireJSON, h.replay)
}

type handlers struct {
	rdb        redis.UniversalClient
	partitions int
}

// list answers {"<name>": [...], "next_cursor": "…"} (next_cursor "" on the last page) from
// the store: the dead letters (failures) or the rejected input (rejections).
func (h handlers) list(store, name string) gin.HandlerFunc {
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

func (h handlers) replay(c *gin.Context) {
	var req replayRequest
	if err := httpapi.DecodeJSON(io.LimitReader(c.Request.Body, 1<<20), &req, `{"ids": [...]} or {"all": true}`); err != nil {
		httpapi.Abort(c, err)
		return
	}
	if err := req.check(); err != nil {
		httpapi.Abort(c, err)
		return
	}
	var res ReplayResult
	var err error
	if req.All {
		res, err = ReplayAll(c.Request.Context(), h.rdb, h.partitions)
	} else {
		res, err = Replay(c.Request.Context(), h.rdb, h.partitions, req.IDs)
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
