package counter

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pulsehq/pulse/internal/events"
)

// Each query is parsed in one pure function: every bad parameter is a 400 naming it.
func TestParseQueries(t *testing.T) {
	t.Parallel()
	ws := []events.Window{{Name: "1m", D: time.Minute}, {Name: "5m", D: 5 * time.Minute}}
	tests := []struct {
		name, query string
		parse       func(url.Values) (any, error)
		want        string // the bad parameter, or the parsed query
	}{
		{"windows", "type=t&subject=a&subject=b", windows, "{t [a b]}"},
		{"windows without subject", "type=t", windows, "subject"},
		{"windows bad type", "type=T&subject=a", windows, "type"},
		{"windows bad subject", "type=t&subject=%01", windows, "subject"},
		{"windows too many", "type=t" + strings.Repeat("&subject=a", MaxSubjects+1), windows, "subject"},
		{"top defaults", "type=t", top(ws), "{t 0 10}"},
		{"top", "type=t&window=5m&limit=3", top(ws), "{t 1 3}"},
		{"top unknown window", "type=t&window=1h", top(ws), "window"},
		{"top empty window", "type=t&window=", top(ws), "window"},
		{"top limit", "type=t&limit=0", top(ws), "limit"},
		{"top limit too high", "type=t&limit=1001", top(ws), "limit"},
		{"counts", "type=t&from=1790000000000&to=1790000060000&step=1m", counts, "{t <nil> 1790000000000 1790000060000 60000000000}"},
		{"counts subject", "type=t&subject=a&from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z", counts, "a"},
		{"counts without from", "type=t&to=1790000060000", counts, "from"},
		{"counts bad to", "type=t&from=1790000000000&to=soon", counts, "to"},
		{"counts backwards", "type=t&from=1790000060000&to=1790000000000", counts, "to"},
		{"counts step", "type=t&from=1790000000000&to=1790000060000&step=90s", counts, "step"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.parse(v)
			var e *events.Error
			switch {
			case errors.As(err, &e) && e.Kind == events.KindInvalid:
				if p := e.Details.(gin.H)["parameter"]; p != tt.want {
					t.Errorf("refused %q (%v), want a refusal of %q", p, err, tt.want)
				}
			case err != nil:
				t.Fatalf("error %v is no 400", err)
			case !strings.Contains(fmtQuery(got), tt.want):
				t.Errorf("parsed %s, want %s", fmtQuery(got), tt.want)
			}
		})
	}
}

func windows(v url.Values) (any, error) { return parseWindowsQuery(v) }
func counts(v url.Values) (any, error)  { return parseCountsQuery(v) }
func top(ws []events.Window) func(url.Values) (any, error) {
	return func(v url.Values) (any, error) { return parseTopQuery(v, ws) }
}

// fmtQuery prints a parsed query, the subject a counts query points to included.
func fmtQuery(q any) string {
	if c, ok := q.(countsQuery); ok && c.subject != nil {
		return fmt.Sprintf("%v subject %s", c, *c.subject)
	}
	return fmt.Sprintf("%v", q)
}
