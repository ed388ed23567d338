package failures

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/httpapi"
)

// API limits.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
	MaxReplayIDs     = 1000
)

// Routes mounts the failure API on r: GET /failures (guarded by read) and
// POST /failures/replay (guarded by operate).
func Routes(r gin.IRoutes, rdb redis.UniversalClient, partitions int, read, operate gin.HandlerFunc) {
	h := handlers{rdb: rdb, partitions: partitions}
	r.GET("/failures", read, h.list)
	r.POST("/failures/replay", operate, h.replay)
}

type handlers struct {
	rdb        redis.UniversalClient
	partitions int
}

// list answers {"failures": [...], "next_cursor": "…"} (next_cursor "" on the last page).
func (h handlers) list(c *gin.Context) {
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
	items, next, err := List(c.Request.Context(), h.rdb, limit, cursor)
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"failures": items, "next_cursor": next})
}

// replayRequest is {"ids": [...]} or {"all": true}.
type replayRequest struct {
	IDs []string `json:"ids"`
	All bool     `json:"all"`
}

func (h handlers) replay(c *gin.Context) {
	var req replayRequest
	dec := json.NewDecoder(io.LimitReader(c.Request.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		httpapi.Abort(c, httpapi.Errorf(http.StatusBadRequest, "invalid_body", "body must be {\"ids\": [...]} or {\"all\": true}: %v", err))
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

func (r replayRequest) check() *httpapi.Error {
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
