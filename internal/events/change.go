package events

// ChangeSet is what the counter publishes on Changes(p) after applying a batch or expiring
// buckets: the new counts of every (type, subject) whose counts moved. Version grows by one per
// published set of a partition, so a reader can order a change against a snapshot it took.
//
// Wire form (compact: it is published on every applied batch):
//
//	{"p":3,"v":17,"at":1790000000000,"c":[{"t":"video_liked","s":"video-1","n":[1,4,9]}]}
type ChangeSet struct {
	Partition int      `json:"p"`
	Version   int64    `json:"v"`
	At        int64    `json:"at"` // unix ms, Redis TIME of the change
	Changes   []Change `json:"c"`
}

// Change carries counts in the order of the deployment's windows.
type Change struct {
	Type    string  `json:"t"`
	Subject string  `json:"s"`
	Counts  []int64 `json:"n"`
}
