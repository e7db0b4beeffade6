package api

// Routes lists the registered routes as "METHOD /path" patterns.
func Routes() []string {
	var out []string
	for _, r := range (&Server{}).routes() {
		out = append(out, r.method+" "+r.path)
	}
	return out
}

// FrameEvent frames one Server-Sent Event.
var FrameEvent = sseEvent
