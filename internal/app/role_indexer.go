package app

// mountIndexer wires the indexer role. Placeholder until the role exists.
func (a *App) mountIndexer() error { return nil }
