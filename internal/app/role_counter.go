package app

// mountCounter wires the counter role. Placeholder until the role exists.
func (a *App) mountCounter() error { return nil }
