package app

// mountLive wires the live role. Placeholder until the role exists.
func (a *App) mountLive() error { return nil }
