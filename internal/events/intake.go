package events

// IntakeKey is a hash of the deployment's MQTT intakes: per client id, its Intake as JSON,
// written by the mqtt process that holds the id every few seconds (GET /v1/pipeline reads it).
const IntakeKey = "pulse:mqtt"

// Intake is one MQTT client's running totals since its process started.
type Intake struct {
	Client      string `json:"client"`
	Filter      string `json:"filter"`
	Connected   bool   `json:"connected"`
	Messages    int64  `json:"messages"`    // received, redeliveries included
	Redelivered int64  `json:"redelivered"` // received with the DUP flag: the broker was not sure it was handled
	Acked       int64  `json:"acked"`       // acknowledged: every event appended, a duplicate, or rejected and recorded
	Refused     int64  `json:"refused"`     // refused as a whole (topic, body), recorded and acknowledged
	Retries     int64  `json:"retries"`     // appends that failed (Redis unavailable) and were tried again
	At          int64  `json:"at"`          // when written, unix ms
}
