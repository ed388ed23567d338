package app

// mountIngest wires the ingest role. Placeholder until the role exists.
func (a *App) mountIngest() error { return nil }
