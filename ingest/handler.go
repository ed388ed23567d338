package ingest

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/httpapi"
)

// LikeType is the type of the events POST /v1/videos/:id/likes appends.
const LikeType = "video_liked"

// maxRecord bounds the copy of a rejected item or body kept in the failure stream.
const maxRecord = 4 << 10

var errStopping = &events.Error{Kind: events.KindUnavailable, Code: "shutting_down", Message: "the server is stopping; retry on another instance"}

// Handler serves the ingest API on top of a Writer.
type Handler struct {
	w     *Writer
	types *typeRegistry
	cfg   Config
	m     *Metrics
	log   *slog.Logger
	jobs  sync.Pool // *job: a request's items and failure records, reused
	out   sync.Pool // *[]byte: answer buffers
}

// newHandler returns the API of w; cfg is the writer's.
func newHandler(w *Writer, cfg Config, m *Metrics) *Handler {
	h := &Handler{w: w, cfg: cfg, m: m, log: cfg.Logger}
	h.types = newTypeRegistry(w.rdb, h.cfg.MaxTypes)
	h.jobs.New = func() any { return &job{done: make(chan struct{}, 1)} }
	h.out.New = func() any { return new([]byte) }
	return h
}

// Mount adds the routes to r, the /v1 group behind the API-key check:
// POST /events and POST /videos/:id/likes. A like must be declared application/json even
// without a body: a bodiless cross-site form post would otherwise count.
func (h *Handler) Mount(r gin.IRoutes) {
	r.POST("/events", h.postEvents)
	r.POST("/videos/:id/likes", httpapi.RequireJSON, h.postLike)
}

func (h *Handler) postEvents(c *gin.Context) {
	recv := time.Now()
	ct := c.GetHeader("Content-Type")
	f, err := formatOf(ct)
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	body, err := readBody(c.Request, h.cfg.MaxBody)
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	j := h.getJob()
	defer h.putJob(j)
	j.items, err = decode(f, body, h.cfg.MaxBatch, j.items)
	var se *syntaxError
	switch {
	case errors.Is(err, errTooMany):
		httpapi.Abort(c, events.Errorf(events.KindTooLarge, "batch_too_large",
			"the batch holds more than %d events", h.cfg.MaxBatch))
	case errors.As(err, &se):
		h.malformed(c, j, body, ct, se.msg)
	case len(j.items) == 0:
		httpapi.Abort(c, events.Errorf(events.KindInvalid, "empty_body", "the body holds no events"))
	default:
		h.ingest(c, j, recv)
	}
}

// postLike appends one LikeType event whose subject is the video id. The optional JSON body
// may give the event's id, data and time.
func (h *Handler) postLike(c *gin.Context) {
	recv := time.Now()
	body, err := readBody(c.Request, h.cfg.MaxBody)
	if err != nil {
		httpapi.Abort(c, err)
		return
	}
	j := h.getJob()
	defer h.putJob(j)
	j.items, err = decode(formatObject, body, 1, j.items)
	var se *syntaxError
	if errors.As(err, &se) {
		h.malformed(c, j, body, c.GetHeader("Content-Type"), se.msg)
		return
	}
	if len(j.items) == 0 {
		j.items = append(j.items, item{})
	}
	it := &j.items[0]
	it.wrong &^= fieldType | fieldSubject | fieldSource | fieldSpecVersion
	it.ev.Type, it.ev.Subject, it.ev.Source, it.ev.SpecVersion = LikeType, c.Param("id"), "", ""
	h.ingest(c, j, recv)
}

// ingest validates the items of j, commits them and answers.
func (h *Handler) ingest(c *gin.Context, j *job, recv time.Time) {
	a, err := h.take(c.Request.Context(), j, recv, map[string]string{"request_id": httpapi.RequestID(c)})
	switch {
	case err != nil:
		httpapi.Abort(c, err)
	case a.accepted > 0:
		h.reply(c, http.StatusAccepted, &a)
	default: // duplicates, perhaps beside rejected items: nothing new, nothing to retry
		h.reply(c, http.StatusOK, &a)
	}
}

// take validates the items of j received at recv, records the rejected ones in the failure
// stream (each record holds the item and the fields of origin), commits the valid ones and
// returns the answer, with the error the request is answered when it is not a 200 or 202 (its
// details are the answer).
func (h *Handler) take(ctx context.Context, j *job, recv time.Time, origin map[string]string) (answer, *events.Error) {
	for i := range j.items {
		j.items[i].check(recv, &h.cfg)
	}
	if err := h.types.admit(ctx, j.items, recv); err != nil {
		h.log.Warn("ingest: type registry unavailable; answering 503", "err", err)
		for i := range j.items {
			if it := &j.items[i]; it.status == pending {
				it.status, it.err = failed, errRedisDown
			}
		}
	}
	for i := range j.items {
		if it := &j.items[i]; it.status == rejected {
			j.failures = append(j.failures, events.Failure{
				Stage:  "ingest",
				Reason: it.err.Code + ": " + it.err.Message,
				At:     recv.UnixMilli(),
				Record: recordOf(origin, "body", truncate(it.raw, maxRecord)),
			})
		}
	}
	if err := h.w.submit(j); err != nil {
		for i := range j.items {
			if it := &j.items[i]; it.status == pending {
				it.status, it.err = failed, errStopping
			}
		}
	}
	h.m.count(j.items)
	a := newAnswer(j.items)
	switch {
	case a.failed > 0:
		e := h.firstFailure(j.items)
		err := events.Unavailable(e.Code, e.Message, h.cfg.RetryAfter)
		err.Details = &a
		return a, err
	case a.accepted == 0 && a.rejected == len(j.items):
		err := events.Errorf(events.KindInvalid, "invalid_events", "all %d events are invalid", a.rejected)
		if a.rejected == 1 {
			err = events.Errorf(events.KindInvalid, j.items[0].err.Code, "%s", j.items[0].err.Message)
		}
		err.Details = &a
		return a, err
	}
	return a, nil
}

// firstFailure is the error of the answer: unconfirmed when any item may be stored (the more
// cautious reading for a client that retries the whole request), else the first item's.
func (h *Handler) firstFailure(items []item) *events.Error {
	var first *events.Error
	for i := range items {
		if it := &items[i]; it.status == failed {
			if it.err == errUnconfirmed {
				return it.err
			}
			if first == nil {
				first = it.err
			}
		}
	}
	if first == nil {
		return errRedisDown
	}
	return first
}

// malformed answers a body that cannot be split into events, after recording it in the
// failure stream so that an operator can see what a broken producer sends.
func (h *Handler) malformed(c *gin.Context, j *job, body, contentType, msg string) {
	_ = h.record(j, body, "malformed_body: "+msg, map[string]string{ // while stopping, the record is lost but the answer stands
		"content_type": contentType,
		"request_id":   httpapi.RequestID(c),
	})
	httpapi.Abort(c, badBody(msg))
}

// record stores a body refused as a whole in the failure stream, with the fields of origin,
// and reports whether it could.
func (h *Handler) record(j *job, body, reason string, origin map[string]string) error {
	clear(j.items)
	j.items = j.items[:0]
	j.failures = append(j.failures, events.Failure{Stage: "ingest", Reason: reason, At: time.Now().UnixMilli(),
		Record: recordOf(origin, "body", truncate(body, maxRecord))})
	if err := h.w.submit(j); err != nil {
		return err
	}
	return j.recordErr
}

// recordOf is a failure record's fields: origin's and key: value.
func recordOf(origin map[string]string, key, value string) map[string]string {
	rec := make(map[string]string, len(origin)+1)
	maps.Copy(rec, origin)
	rec[key] = value
	return rec
}

func (h *Handler) reply(c *gin.Context, code int, a *answer) {
	buf := h.out.Get().(*[]byte)
	*buf = a.appendJSON((*buf)[:0])
	c.Data(code, "application/json; charset=utf-8", *buf)
	h.out.Put(buf)
}

func (h *Handler) getJob() *job { return h.jobs.Get().(*job) }

func (h *Handler) putJob(j *job) {
	clear(j.items)
	clear(j.failures)
	j.items, j.failures, j.recordErr = j.items[:0], j.failures[:0], nil
	h.jobs.Put(j)
}
