package indexer

import (
	"encoding/json"
	"fmt"

	"github.com/pulsehq/pulse/consumers"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/failures"
	"github.com/pulsehq/pulse/internal/search"
)

// eventDoc turns a partition stream entry into its document, keyed by (type, subject, id) as
// ingest dedupes, so a redelivered entry replaces the same document while events that share a
// client id across types or subjects stay apart.
func eventDoc(_ string, e consumers.Entry) (search.Doc, error) {
	ev, err := events.FromValues(e.Values)
	if err != nil {
		return search.Doc{}, err
	}
	if len(ev.Data) > 0 && !json.Valid(ev.Data) {
		return search.Doc{}, fmt.Errorf("%w: data is not JSON", events.ErrMalformed)
	}
	return search.Doc{Key: search.EventKey(ev.Type, ev.Subject, ev.ID), ID: ev.ID, Type: ev.Type, Subject: ev.Subject, Time: ev.Time, Received: ev.Received, Data: ev.Data}, nil
}

// failureDoc turns a record of a failure store (dead letters or rejected input) into its
// document: its id is the record's id in the store (the key adds the store: the two stores'
// ids may coincide), type and subject come from the failed record, data holds the stream,
// entry id and record.
func failureDoc(store string, e consumers.Entry) (search.Doc, error) {
	f := failures.Decode(e.Values)
	if f.Stage == "" {
		return search.Doc{}, fmt.Errorf("%w: failure record without a stage", events.ErrMalformed)
	}
	if f.At == 0 { // the entry id carries the time it was appended
		f.At = max(events.IDMillis(e.ID), 0)
	}
	data, err := json.Marshal(struct {
		Stream  string            `json:"stream,omitempty"`
		EntryID string            `json:"entry_id,omitempty"`
		Record  map[string]string `json:"record"`
	}{f.Stream, f.EntryID, f.Record})
	if err != nil {
		return search.Doc{}, fmt.Errorf("%w: %v", events.ErrMalformed, err)
	}
	return search.Doc{
		Key: store + "/" + e.ID, ID: e.ID, Type: f.Record[events.FieldType], Subject: f.Record[events.FieldSubject],
		Time: f.At, Received: f.At, Data: data, Stage: f.Stage, Reason: f.Reason,
	}, nil
}
