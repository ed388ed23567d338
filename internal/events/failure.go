package events

// Failure is the record of an entry that could not be applied (shared/design.md, "Failure
// stream"). Stage names who gave up: "ingest" (rejected input), "counter", "indexer".
type Failure struct {
	Stage   string            `json:"stage"`
	Reason  string            `json:"reason"`
	At      int64             `json:"at"` // unix ms
	Stream  string            `json:"stream,omitempty"`
	EntryID string            `json:"entry_id,omitempty"`
	Record  map[string]string `json:"record"`
}

// Failure stream field names.
const (
	FailStage   = "stage"
	FailReason  = "reason"
	FailAt      = "at"
	FailStream  = "stream"
	FailEntryID = "entry_id"
	FailRecord  = "record" // JSON object of the original fields (or {"body": …} for ingest)
)
