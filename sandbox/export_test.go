package sandbox

// CachedRuntimes is how many memory limits e keeps compiled code for.
func CachedRuntimes(e *Engine) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.runtimes)
}
