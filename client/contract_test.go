package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pulsehq/pulse/client"
	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/internal/archive"
)

// The dashboard's wire types (frontend/src/api/types.ts) name the same fields as the Go
// types: none invented, none missing (but those listed as not used by the dashboard).
func TestFrontendTypes(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile("../frontend/src/api/types.ts")
	if err != nil {
		t.Fatal(err)
	}
	ts := parseInterfaces(string(src))
	tests := []struct {
		ts     string
		goType []any // the first is the one whose every field the dashboard must know
		unused []string
	}{
		{"TopEntry", []any{client.Entry{}}, nil},
		{"TopResponse", []any{client.Top{}}, nil},
		{"WindowsResponse", []any{client.Windows{}}, nil},
		{"CountsResponse", []any{client.Counts{}}, nil},
		{"ItemResult", []any{client.Result{}}, nil},
		{"IngestResponse", []any{client.Answer{}}, nil},
		{"EventInput", []any{client.Event{}}, []string{}},
		{"StoredEvent", []any{client.Doc{}}, []string{"stage", "reason"}},
		{"SearchResponse", []any{client.SearchResult{}}, nil},
		{"FailureRecord", []any{client.Failure{}, client.Doc{}}, nil},
		{"GroupView", []any{consumers.GroupView{}}, nil},
		{"RatePoint", []any{consumers.RatePoint{}}, nil},
		{"PipelineView", []any{consumers.PipelineView{}}, nil},
		{"ArchiveStats", []any{archive.Stats{}}, nil},
	}
	for _, tt := range tests {
		fields, ok := ts[tt.ts]
		if !ok {
			t.Errorf("types.ts has no interface %s", tt.ts)
			continue
		}
		var known []string
		for _, g := range tt.goType {
			known = append(known, jsonFields(reflect.TypeOf(g))...)
		}
		if tt.ts == "EventInput" {
			known = append(known, "time") // written by Event.MarshalJSON
		}
		for _, f := range fields {
			if !slices.Contains(known, f) {
				t.Errorf("%s.%s: no such field in %T", tt.ts, f, tt.goType[0])
			}
		}
		for _, f := range jsonFields(reflect.TypeOf(tt.goType[0])) {
			if !slices.Contains(fields, f) && !slices.Contains(tt.unused, f) {
				t.Errorf("%s lacks %T's field %q", tt.ts, tt.goType[0], f)
			}
		}
	}
}

var (
	interfaceRe = regexp.MustCompile(`(?s)export interface (\w+)(?:<[^>]*>)? \{(.*?)\n\}`)
	fieldRe     = regexp.MustCompile(`(?m)^  (\w+)\??:`)
)

// parseInterfaces reads the top-level fields of each exported interface of a types file.
func parseInterfaces(src string) map[string][]string {
	out := map[string][]string{}
	for _, m := range interfaceRe.FindAllStringSubmatch(src, -1) {
		for _, f := range fieldRe.FindAllStringSubmatch(m[2], -1) {
			out[m[1]] = append(out[m[1]], f[1])
		}
	}
	return out
}

// jsonFields are the JSON member names of a struct type; SubjectCounts-like types with their
// own MarshalJSON have none to compare.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

// Every answer of a real server decodes into the client's types with no member left over.
func TestServerAnswersDecode(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newClient(t, pulseURL)
	const typ = "contract_test"
	if _, err := c.SendBatch(ctx, []client.Event{{Type: typ, Subject: "a"}, {Type: typ, Subject: "b"}}, client.JSON); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	strict := func(path string, out any) {
		t.Helper()
		res, err := http.Get(pulseURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(out); err != nil {
			t.Errorf("GET %s: %s does not decode into %T: %v", path, body, out, err)
		}
	}
	strict("/v1/windows?type="+typ+"&subject=a", new(client.Windows))
	strict("/v1/top?type="+typ, new(client.Top))
	strict("/v1/counts?type="+typ+"&step=1m&from="+itoa(int(now-3600_000))+"&to="+itoa(int(now)), new(client.Counts))
	strict("/v1/search?type="+typ, new(client.SearchResult))
	strict("/v1/search/failures", new(client.SearchResult))
	strict("/v1/failures", new(struct {
		Failures   []client.Failure `json:"failures"`
		NextCursor string           `json:"next_cursor"`
	}))
	var ingestErr struct {
		Error struct {
			Code    string        `json:"code"`
			Message string        `json:"message"`
			Details client.Answer `json:"details"`
		} `json:"error"`
	}
	res, err := http.Post(pulseURL+"/v1/events", "application/json", strings.NewReader(`[{"type":"Bad","subject":"a"},{"type":"t"}]`))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(res.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ingestErr); err != nil || ingestErr.Error.Details.Rejected != 2 {
		t.Errorf("400 of ingest: %v, %+v", err, ingestErr)
	}
	res.Body.Close()

	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(pulseURL, "http")+"/v1/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	for _, f := range []string{
		`{"op":"subscribe","id":"s","type":"` + typ + `","subjects":["a"]}`,
		`{"op":"subscribe","id":"t","type":"` + typ + `","top":{"window":"1m","limit":3}}`,
		`{"op":"subscribe","id":"s","type":"` + typ + `","subjects":["a"]}`,
	} {
		if err := conn.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	for seen := map[string]bool{}; !seen["snapshot"] || !seen["top"] || !seen["error"]; {
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var f client.Frame
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			t.Errorf("frame %s does not decode into client.Frame: %v", data, err)
		}
		seen[f.Op] = true
	}
}
