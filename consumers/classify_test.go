package consumers

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	entry := func(id string, deliveries int64) Entry { return Entry{ID: id, Deliveries: deliveries} }
	type outcome struct {
		ack, dead, retry []string
		failed           int
	}
	tests := []struct {
		name     string
		entries  []Entry
		errs     []error // per entry, nil for none
		batchErr error
		acked    bool
		want     outcome
	}{
		{"all done", []Entry{entry("1", 1), entry("2", 1)}, nil, nil, false, outcome{ack: []string{"1", "2"}}},
		{"handler acknowledged", []Entry{entry("1", 1)}, nil, nil, true, outcome{}},
		{"one fails, kept pending", []Entry{entry("1", 1), entry("2", 1)}, []error{nil, boom}, nil, false, outcome{ack: []string{"1"}, failed: 1}},
		{"fails its last delivery", []Entry{entry("1", 5)}, []error{boom}, nil, false, outcome{dead: []string{"1"}}},
		{"skip retry", []Entry{entry("1", 1)}, []error{fmt.Errorf("bad: %w", ErrSkipRetry)}, nil, false, outcome{dead: []string{"1"}}},
		{"transient", []Entry{entry("1", 9)}, []error{fmt.Errorf("down: %w", ErrTransient)}, nil, false, outcome{retry: []string{"1"}}},
		{"batch error applies to every entry without its own", []Entry{entry("1", 1), entry("2", 5)}, []error{nil, fmt.Errorf("x: %w", ErrTransient)}, boom, false,
			outcome{failed: 1, retry: []string{"2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBatch(0, "s", "g", tt.entries)
			for i, err := range tt.errs {
				b.Fail(i, err)
			}
			b.acked = tt.acked
			v := classify(b, tt.batchErr, 5)
			got := outcome{ack: v.ack, failed: v.failed}
			for _, d := range v.dead {
				got.dead = append(got.dead, d.Entry.ID)
			}
			for _, e := range v.retry {
				got.retry = append(got.retry, e.ID)
			}
			if !slices.Equal(got.ack, tt.want.ack) || !slices.Equal(got.dead, tt.want.dead) ||
				!slices.Equal(got.retry, tt.want.retry) || got.failed != tt.want.failed {
				t.Errorf("classify = %+v, want %+v", got, tt.want)
			}
		})
	}
}
