package events

// AppendArgs appends the entry's field/value pairs (the layout of Values) to dst as go-redis
// command arguments. Values are pointers into e rather than copies, so a hot path that appends
// thousands of events per pipeline allocates nothing per field; e must stay unchanged until the
// command has been sent.
func (e *Event) AppendArgs(dst []any) []any {
	dst = append(dst,
		FieldID, &e.ID,
		FieldType, &e.Type,
		FieldSubject, &e.Subject,
		FieldTime, &e.Time,
		FieldReceived, &e.Received,
	)
	if len(e.Data) > 0 {
		dst = append(dst, FieldData, []byte(e.Data))
	}
	if e.Source != "" {
		dst = append(dst, FieldSource, &e.Source)
	}
	if e.SpecVersion != "" {
		dst = append(dst, FieldSpecVersion, &e.SpecVersion)
	}
	if e.Origin != "" {
		dst = append(dst, FieldOrigin, &e.Origin)
	}
	return dst
}
